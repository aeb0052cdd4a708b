public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
public import Prometheus
public import ServiceLifecycle
public import SkyportConfig
import SkyportInterop

/// The Prometheus endpoint of a service: HTTP/1.1 `GET /metrics` returns the registry in the text
/// exposition format. With a token, requests must carry `Authorization: Bearer <token>` (compared in
/// constant time; 401 otherwise). Any other path is 404, any other method 405. Each response closes
/// its connection; request bodies are not read, so a client cannot make it buffer.
///
/// A swift-service-lifecycle `Service`: it binds when run and closes on graceful shutdown.
public final class MetricsEndpoint: Service, Sendable {
    private let address: HostAndPort
    private let registry: PrometheusCollectorRegistry
    private let token: [UInt8]?
    private let logger: Logger
    private let bound = StartupGate()
    private let boundPort = LockedValue<Int?>(nil)

    /// Creates the endpoint; nothing listens until ``run()``.
    public init(address: HostAndPort, registry: PrometheusCollectorRegistry, token: String?, logger: Logger) {
        self.address = address
        self.registry = registry
        self.token = token.map { Array($0.utf8) }
        self.logger = logger
    }

    /// The port bound, once ``run()`` has bound it.
    public func waitUntilBound() async throws -> Int {
        try await self.bound.wait()
        return self.boundPort.get() ?? 0
    }

    /// Serves until graceful shutdown or cancellation.
    public func run() async throws {
        let registry = self.registry
        let token = self.token
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            MetricsHTTPHandler(registry: registry, token: token))
                    }
                }
                .bind(host: self.address.host, port: self.address.port).get()
        } catch {
            self.bound.fail(error)
            throw error
        }
        let port = channel.localAddress?.port ?? self.address.port
        self.boundPort.set(port)
        self.bound.open()
        self.logger.info("metrics endpoint listening", metadata: ["address": "\(self.address.host):\(port)"])
        await withTaskCancellationOrGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

/// One HTTP/1.1 exchange per connection: answers at the end of the request head and body, then closes.
private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let token: [UInt8]?
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry, token: [UInt8]?) {
        self.registry = registry
        self.token = token
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            self.respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" else {
            return self.send(.notFound, body: "not found: GET /metrics serves the metrics\n", context: context)
        }
        guard head.method == .GET || head.method == .HEAD else {
            return self.send(.methodNotAllowed, body: "only GET\n", extra: [("Allow", "GET, HEAD")], context: context)
        }
        if let token = self.token {
            let presented = head.headers.first(name: "authorization").flatMap { value -> [UInt8]? in
                guard value.lowercased().hasPrefix("bearer ") else { return nil }
                return Array(value.dropFirst("bearer ".count).utf8)
            }
            guard let presented, ConstantTime.equals(presented, token) else {
                return self.send(
                    .unauthorized, body: "a bearer token is required\n", extra: [("WWW-Authenticate", "Bearer")],
                    context: context)
            }
        }
        let body = self.registry.emitToBuffer()
        self.send(
            .ok, bytes: head.method == .HEAD ? [] : body, contentLength: body.count,
            contentType: "text/plain; version=0.0.4; charset=utf-8", context: context)
    }

    private func send(
        _ status: HTTPResponseStatus, body: String, extra: [(String, String)] = [], context: ChannelHandlerContext
    ) {
        let bytes = Array(body.utf8)
        self.send(status, bytes: bytes, contentLength: bytes.count, contentType: "text/plain; charset=utf-8", extra: extra, context: context)
    }

    private func send(
        _ status: HTTPResponseStatus, bytes: [UInt8], contentLength: Int, contentType: String,
        extra: [(String, String)] = [], context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders([
            ("Content-Type", contentType), ("Content-Length", "\(contentLength)"), ("Connection", "close"),
        ])
        headers.add(contentsOf: extra)
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if !bytes.isEmpty {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
