internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix
import SkyportInterop
import Synchronization

/// A small HTTP/1.1 server answering `GET <path>` with a text body made on each request (the
/// Prometheus endpoint of every service). With a token, requests must carry
/// `Authorization: Bearer <token>` (compared in constant time; 401 otherwise). Any other path is 404,
/// any other method 405. Each response closes its connection; request bodies are not read, so a client
/// cannot make it buffer; a connection that sends no complete request within 10 s is closed, and at
/// most 64 are open at once. It runs on the process's shared event loops.
public final class TextHTTPEndpoint: Sendable {
    /// Open connections at most; more are closed at once.
    static let maximumConnections = 64
    /// How long a connection may take to send its request.
    static let requestTimeout = TimeAmount.seconds(10)

    private let host: String
    private let port: Int
    private let path: String
    private let contentType: String
    private let token: [UInt8]?
    private let body: @Sendable () -> [UInt8]
    private let channel = Mutex<(any Channel)?>(nil)
    private let connections = ConnectionCount()

    /// Open connections, shared with the child-channel initializer.
    private final class ConnectionCount: Sendable {
        let value = Mutex(0)
    }

    /// An endpoint serving `body()` at `path` on `host:port`; nothing listens until ``bind()``.
    public init(
        host: String, port: Int, path: String, contentType: String, token: String?,
        body: @escaping @Sendable () -> [UInt8]
    ) {
        self.host = host
        self.port = port
        self.path = path
        self.contentType = contentType
        self.token = token.map { Array($0.utf8) }
        self.body = body
    }

    /// Starts listening; returns the port bound.
    public func bind() async throws -> Int {
        let (path, contentType, token, body) = (self.path, self.contentType, self.token, self.body)
        let connections = self.connections
        let channel = try await ServerBootstrap(group: SharedEventLoopGroup.group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let admitted = connections.value.withLock { count in
                    guard count < Self.maximumConnections else { return false }
                    count += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in connections.value.withLock { $0 -= 1 } }
                // Closes a connection that has not sent its whole request in time.
                channel.eventLoop.scheduleTask(in: Self.requestTimeout) { channel.close(promise: nil) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        TextEndpointHandler(path: path, contentType: contentType, token: token, body: body))
                }
            }
            .bind(host: self.host, port: self.port).get()
        self.channel.withLock { $0 = channel }
        return channel.localAddress?.port ?? self.port
    }

    /// Stops listening and returns once the listener is closed.
    public func close() async {
        let channel = self.channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await channel?.close()
    }
}

/// One HTTP/1.1 exchange per connection: answers at the end of the request head and body, then closes.
final class TextEndpointHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let path: String
    private let contentType: String
    private let body: @Sendable () -> [UInt8]
    private let token: [UInt8]?
    private var head: HTTPRequestHead?

    init(path: String, contentType: String, token: [UInt8]?, body: @escaping @Sendable () -> [UInt8]) {
        self.path = path
        self.contentType = contentType
        self.token = token
        self.body = body
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
        guard path == self.path else {
            return self.send(.notFound, body: "not found: GET \(self.path) is served here\n", context: context)
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
        let body = self.body()
        self.send(
            .ok, bytes: head.method == .HEAD ? [] : body, contentLength: body.count, contentType: self.contentType,
            context: context)
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
