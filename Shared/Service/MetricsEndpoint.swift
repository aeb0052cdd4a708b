public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SkyportHTTP2
public import Prometheus
public import ServiceLifecycle
public import SkyportConfig
import SkyportInterop

/// The Prometheus endpoint of a service: HTTP/1.1 `GET /metrics` returns the registry in the text
/// exposition format. With a token, requests must carry `Authorization: Bearer <token>` (compared in
/// constant time; 401 otherwise). Any other path is 404, any other method 405. Each response closes
/// its connection; request bodies are not read, so a client cannot make it buffer; a connection that
/// sends no complete request within 10 s is closed, and at most 64 are open at once.
///
/// A swift-service-lifecycle `Service`: it binds when run and closes on graceful shutdown.
public final class MetricsEndpoint: Service, Sendable {
    private let address: HostAndPort
    private let registry: PrometheusCollectorRegistry
    private let token: [UInt8]?
    private let logger: Logger
    private let bound = StartupGate()
    private let boundPort = LockedValue<Int?>(nil)
    private let connections = LockedValue(0)

    /// Open connections at most; more are closed at once.
    static let maximumConnections = 64
    /// How long a connection may take to send its request.
    static let requestTimeout = TimeAmount.seconds(10)

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
        let connections = self.connections
        if token == nil && !["127.0.0.1", "::1", "localhost"].contains(self.address.host) {
            self.logger.warning(
                "metrics endpoint without a token on a non-loopback address; set metrics-token-file",
                metadata: ["address": "\(self.address)"])
        }
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: SharedEventLoopGroup.group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    let admitted = connections.update { count in
                        guard count < Self.maximumConnections else { return false }
                        count += 1
                        return true
                    }
                    guard admitted else { return channel.close() }
                    channel.closeFuture.whenComplete { _ in connections.update { $0 -= 1 } }
                    // Closes a connection that has not sent its whole request in time.
                    channel.eventLoop.scheduleTask(in: Self.requestTimeout) { channel.close(promise: nil) }
                    return channel.eventLoop.makeCompletedFuture {
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
        self.send(
            status, bytes: bytes, contentLength: bytes.count, contentType: "text/plain; charset=utf-8", extra: extra,
            context: context)
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
            context.write(
                self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
