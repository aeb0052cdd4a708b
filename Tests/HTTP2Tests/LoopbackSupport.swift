import Dispatch
import Logging
@testable import SkyportHTTP2
import SkyportInterop
import SkyportRPC
import SkyportTestSupport
import Synchronization

enum Loop {
    static let echo = MethodDescriptor(service: "loop.Svc", method: "Echo")
    static let sleep = MethodDescriptor(service: "loop.Svc", method: "Sleep")
    static let flood = MethodDescriptor(service: "loop.Svc", method: "Flood")
    static let count = MethodDescriptor(service: "loop.Svc", method: "Count")
    static let upper = MethodDescriptor(service: "loop.Svc", method: "Upper")
    static let whoami = MethodDescriptor(service: "loop.Svc", method: "WhoAmI")
    static let linger = MethodDescriptor(service: "loop.Svc", method: "Linger")
}

/// What the loopback handlers saw.
final class Seen: Sendable {
    let sleepers = Atomic<Int>(0)
    let cancellations = Atomic<Int>(0)
    let floodWrites = Atomic<Int>(0)
    let countMessages = Atomic<Int>(0)
    let lingerersStarted = Atomic<Int>(0)
    let lingerersFinished = Atomic<Int>(0)
}

struct LoopbackService: RPCService {
    let seen = Seen()

    var methods: [ServerMethod] {
        let seen = self.seen
        return [
            .unary(Loop.echo, Blob.self, Blob.self) { request, context in
                for entry in context.requestMetadata where entry.key.hasPrefix("x-") {
                    context.initialResponseMetadata.add(contentsOf: [entry.key: entry.value])
                    context.trailingResponseMetadata.add(contentsOf: [entry.key: entry.value])
                }
                return request
            },
            .unary(Loop.sleep, Blob.self, Blob.self) { _, _ in
                seen.sleepers.add(1, ordering: .relaxed)
                do {
                    try await Task.sleep(for: .seconds(30))
                } catch {
                    seen.cancellations.add(1, ordering: .relaxed)
                    throw error
                }
                return Blob()
            },
            .serverStreaming(Loop.flood, Blob.self, Blob.self) { request, responses, _ in
                let chunk = Blob([UInt8](repeating: 0xAB, count: 64 * 1024))
                for _ in 0..<Int(request.text)! {
                    try await responses.write(chunk)
                    seen.floodWrites.add(1, ordering: .relaxed)
                }
            },
            .clientStreaming(Loop.count, Blob.self, Blob.self) { requests, _ in
                var total = 0
                for try await request in requests {
                    seen.countMessages.add(1, ordering: .relaxed)
                    total += request.bytes.count
                }
                return Blob(String(total))
            },
            .bidirectional(Loop.upper, Blob.self, Blob.self) { requests, responses, _ in
                for try await request in requests { try await responses.write(Blob(request.text.uppercased())) }
            },
            // Works on for 300 ms whatever happens, like a handler inside a store write when it is cancelled.
            .unary(Loop.linger, Blob.self, Blob.self) { _, _ in
                seen.lingerersStarted.add(1, ordering: .relaxed)
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { continuation.resume() }
                }
                seen.lingerersFinished.add(1, ordering: .relaxed)
                return Blob()
            },
            .unary(Loop.whoami, Blob.self, Blob.self) { _, context in
                Blob(context.peer.identity?.commonName ?? "anonymous")
            },
        ]
    }
}

/// A server on 127.0.0.1 and a client connected to it, shut down by `stop()`.
struct Loopback {
    let seen: Seen
    let server: HTTP2Server
    let port: Int
    let transport: HTTP2ClientTransport
    var client: RPCClient { RPCClient(transport: self.transport) }

    static var quietLogger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    static func start(
        configuration: HTTP2ServerConfiguration = .init(), tls: ServerTLS? = nil,
        clientConfiguration: HTTP2ClientConfiguration = .init()
    ) async throws -> Loopback {
        let service = LoopbackService()
        let server = try HTTP2Server(
            router: Router(services: [service]), configuration: configuration, tls: tls, logger: quietLogger)
        let port = try await server.bind(host: "127.0.0.1", port: 0)
        let transport = try HTTP2ClientTransport(
            host: "127.0.0.1", port: port, configuration: clientConfiguration, logger: quietLogger)
        return Loopback(seen: service.seen, server: server, port: port, transport: transport)
    }

    func stop() async {
        await self.transport.close()
        await self.server.shutdown()
    }
}
