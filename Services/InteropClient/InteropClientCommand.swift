import ArgumentParser
import Logging
import SkyportHTTP2
import SkyportProto
import SkyportRPC

/// `interop-client`: runs the standard gRPC interop test cases against a `grpc.testing.TestService` server.
///
/// Flags follow the other languages' interop clients (`--server_host`, `--server_port`, `--test_case`,
/// `--use_tls=true|false`, `--server_host_override`, `--ca_file`). Prints `PASS`/`FAIL` per case and exits
/// non-zero when any case failed.
@main
struct InteropClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interop-client",
        abstract: "gRPC interop test client.",
        discussion: "Test cases: \(InteropTestCase.allCases.map(\.rawValue).joined(separator: ", "))."
    )

    @Option(name: .customLong("server_host"), help: "The server host to connect to.")
    var serverHost: String = "localhost"

    @Option(name: .customLong("server_port"), help: "The server port to connect to.")
    var serverPort: Int

    @Option(name: .customLong("test_case"), help: "A test case, a comma-separated list, or 'all'.")
    var testCase: String = "all"

    @Option(name: .customLong("use_tls"), help: "Whether to use TLS (true/false; a bare --use_tls means true).")
    var useTLS: Bool = false

    @Option(name: .customLong("use_test_ca"), help: "Accepted for compatibility; use --ca_file.")
    var useTestCA: Bool = false

    @Option(name: .customLong("server_host_override"), help: "The TLS server name to verify and send (SNI).")
    var serverHostOverride: String?

    @Option(name: .customLong("ca_file"), help: "PEM file of trusted roots (default: the system roots).")
    var caFile: String?

    @Option(name: .customLong("log_level"), help: "Log level of the transport.")
    var logLevel: String = "warning"

    /// Parses the arguments after turning a bare `--use_tls`/`--use_test_ca` into `=true`, as the standard
    /// clients accept both spellings.
    static func main() async {
        let arguments = Self.normalizingBareBooleans(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try Self.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            Self.exit(withError: error)
        }
    }

    static func normalizingBareBooleans(_ arguments: [String]) -> [String] {
        let booleans: Set<String> = ["--use_tls", "--use_test_ca"]
        var result: [String] = []
        for (index, argument) in arguments.enumerated() {
            result.append(argument)
            guard booleans.contains(argument) else { continue }
            let next = index + 1 < arguments.count ? arguments[index + 1].lowercased() : nil
            if next != "true" && next != "false" { result[result.count - 1] = argument + "=true" }
        }
        return result
    }

    func validate() throws {
        _ = try self.selectedCases()
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError("unknown log level '\(self.logLevel)'")
        }
    }

    func selectedCases() throws -> [InteropTestCase] {
        if self.testCase == "all" { return InteropTestCase.allCases }
        return try self.testCase.split(separator: ",").map { name in
            let name = String(name.filter { !$0.isWhitespace })
            guard let testCase = InteropTestCase(rawValue: name) else {
                throw ValidationError("unknown test case '\(name)'")
            }
            return testCase
        }
    }

    func run() async throws {
        // The same executor as the services: loops sized by the CPUs this process may use (benchmarks pin it).
        await SharedEventLoopGroup.runConcurrencyOnEventLoops()
        let level = Logger.Level(rawValue: self.logLevel) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "interop-client")
        let cases = try self.selectedCases()

        let tls =
            self.useTLS
            ? ClientTLS(trustRootsPath: self.caFile, serverHostname: self.serverHostOverride ?? self.serverHost)
            : nil
        let transport = try HTTP2ClientTransport(
            host: self.serverHost, port: self.serverPort,
            configuration: HTTP2ClientConfiguration(tls: tls), logger: logger
        )
        let client = RPCClient(transport: transport)

        var failed = 0
        for testCase in cases {
            let started = ContinuousClock.now
            do {
                try await testCase.run(client)
                let elapsed = (ContinuousClock.now - started).components
                let milliseconds = elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000
                print("PASS \(testCase.rawValue) (\(milliseconds) ms)")
            } catch {
                failed += 1
                print("FAIL \(testCase.rawValue): \(InteropTestCase.describe(error))")
            }
        }
        await transport.close()
        print("\(cases.count - failed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode.failure }
    }
}
