import ArgumentParser
import Dispatch
import Foundation
import Logging
import SkyportHTTP2
import SkyportRPC
import SkyportServer

#if canImport(Glibc)
    import Glibc
#endif

/// `interop-server`: serves `grpc.testing.TestService` and `echo.Echo` (plus the server's built-in health and
/// reflection) for the gRPC interoperability tests and the peer benchmarks.
///
/// Reads the flags `--port`, `--host`, `--tls-cert`, `--tls-key`, `--tls-client-ca` and `--log-level`.
/// SIGTERM or SIGINT shuts the server down gracefully.
@main
struct InteropServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interop-server",
        abstract: "gRPC interop test server (grpc.testing.TestService, echo.Echo, health, reflection)."
    )

    @Option(help: "The port to listen on; 0 picks a free one.")
    var port: Int

    @Option(help: "The address to bind.")
    var host: String = "0.0.0.0"

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain; enables TLS (with --tls-key).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("tls-client-ca"), help: "PEM CA bundle; when set, clients must present a certificate.")
    var tlsClientCA: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        if (self.tlsCert == nil) != (self.tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        if self.tlsClientCA != nil && self.tlsCert == nil {
            throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key")
        }
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError("unknown log level '\(self.logLevel)'")
        }
    }

    func run() async throws {
        // The same executor as the services: loops sized by the CPUs this process may use (benchmarks pin it).
        await SharedEventLoopGroup.runConcurrencyOnEventLoops()
        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "interop-server")

        let tls = self.tlsCert.map { cert in
            ServerTLS(certificateChainPath: cert, privateKeyPath: self.tlsKey ?? "", clientCAPath: self.tlsClientCA)
        }
        let server = try GRPCServer(
            configuration: GRPCServer.Configuration(host: self.host, port: self.port, tls: tls),
            services: [InteropTestService(logger: logger), EchoService()],
            logger: logger
        )

        // Signal handling is installed before the server starts so an early SIGTERM is not lost.
        let watcher = SignalWatcher(signals: [SIGTERM, SIGINT])
        let signals = watcher.signals
        let boundPort = try await server.start()
        // A plain line, not a log record: scripts wait for it.
        FileHandle.standardError.write(Data("interop-server listening on port \(boundPort)\n".utf8))

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await server.waitUntilStopped()
            }
            group.addTask {
                for await number in signals {
                    logger.info("shutting down", metadata: ["signal": "\(number)"])
                    await server.shutdown(gracePeriod: .seconds(5))
                    return
                }
            }
            // Whichever ends first: the server stopping (on its own or after the shutdown) ends the run.
            try await group.next()
            group.cancelAll()
        }
        withExtendedLifetime(watcher) {}
    }
}

/// Delivers SIGTERM/SIGINT as an async sequence instead of running a C signal handler.
///
/// The signals are ignored at the process level and observed through Dispatch sources, which live as long
/// as this object; it is not `Sendable`, but its `signals` stream is.
final class SignalWatcher {
    /// The signal numbers, as they arrive.
    let signals: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    /// Starts watching `signals`.
    init(signals numbers: [Int32]) {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        self.signals = stream
        self.sources = numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    deinit {
        for source in self.sources { source.cancel() }
    }
}
