public import Logging
internal import NIOCore
internal import NIOPosix
internal import SkyportInterop
public import SkyportRPC
internal import Synchronization

/// A gRPC server over HTTP/2 (h2c with prior knowledge, or TLS with ALPN `h2`).
///
/// `bind` starts listening; `shutdown` stops accepting, sends GOAWAY on every connection, lets calls
/// in flight finish within the grace period, then closes them.
public final class HTTP2Server: Sendable {
    private struct State {
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
        var stopped = false
    }

    private let router: Router
    private let configuration: HTTP2ServerConfiguration
    private let tls: TLSContext?
    private let logger: Logger
    private let group: any EventLoopGroup
    private let state = Mutex(State())
    private let stopped: EventLoopPromise<Void>
    private let handlerTasks = LiveCount()
    /// This server's connection handlers not yet freed (a leak test reads it).
    let connectionHandlers = LiveCount()

    /// Creates a server; nothing listens until `bind`.
    ///
    /// - Throws: `TLSError` when the TLS configuration cannot be loaded.
    public init(
        router: Router, configuration: HTTP2ServerConfiguration = .init(), tls: ServerTLS? = nil,
        logger: Logger
    ) throws {
        self.router = router
        self.configuration = configuration
        self.tls = try tls.map { try TLSContext(configuration: $0.configuration) }
        self.logger = logger
        // Shared and process-long, so no server has to manage (or can get wrong) thread lifetimes.
        self.group = SharedEventLoopGroup.group
        self.stopped = self.group.any().makePromise()
    }

    /// Starts listening on `host:port` (port 0 picks a free port).
    ///
    /// - Returns: the port bound.
    public func bind(host: String, port: Int) async throws -> Int {
        let bootstrap = ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.initializeConnection(channel) }
            }
        let listener = try await bootstrap.bind(host: host, port: port).get()
        self.state.withLock { $0.listener = listener }
        self.logger.info(
            "listening",
            metadata: [
                "rpc.address": "\(host):\(listener.localAddress?.port ?? port)",
                "rpc.tls": "\(self.tls != nil)",
            ])
        return listener.localAddress?.port ?? port
    }

    private func initializeConnection(_ channel: any Channel) throws {
        let accepted = self.state.withLock { state -> Bool in
            guard !state.shuttingDown else { return false }
            state.connections[ObjectIdentifier(channel)] = channel
            return true
        }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = self.state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
        }
        let handlers = channel.pipeline.syncOperations
        if let tls = self.tls {
            try handlers.addHandler(try TLSHandler(context: tls))
        }
        try handlers.addHandler(
            ServerConnectionHandler(
                router: self.router, configuration: self.configuration, handlerTasks: self.handlerTasks,
                connectionHandlers: self.connectionHandlers, logger: self.logger))
    }

    /// The number of open client connections.
    public var connectionCount: Int {
        self.state.withLock { $0.connections.count }
    }

    /// Stops accepting, drains every connection (GOAWAY, then in-flight calls get `gracePeriod`, by
    /// default `configuration.shutdownGracePeriod`), and returns once all are closed.
    public func shutdown(gracePeriod: Duration? = nil) async {
        let (listener, connections) = self.state.withLock { state in
            state.shuttingDown = true
            return (state.listener, Array(state.connections.values))
        }
        try? await listener?.close()
        let grace = gracePeriod ?? self.configuration.shutdownGracePeriod
        for connection in connections {
            connection.triggerUserOutboundEvent(
                ServerConnectionHandler.GracefulShutdown(gracePeriod: grace),
                promise: nil)
        }
        for connection in connections {
            try? await connection.closeFuture.get()
        }
        // Handlers cancelled at the end of the grace period may still be unwinding (a store write in
        // flight): let them return, within bounds, before callers close what they use.
        let unwinding = ContinuousClock.now + .seconds(5)
        while self.handlerTasks.running > 0 && ContinuousClock.now < unwinding {
            // A cancelled shutdown stops waiting instead of spinning.
            guard (try? await Task.sleep(for: .milliseconds(10))) != nil else { break }
        }
        self.markStopped()
    }

    private func markStopped() {
        let first = self.state.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        if first { self.stopped.succeed() }
    }

    // A server that never bound (its service failed to start) is never shut down: complete the promise,
    // which NIO would otherwise report as leaked. (No one can be waiting: a waiter keeps the server alive.)
    deinit {
        self.markStopped()
    }

    /// Waits until `shutdown` has finished.
    public func waitUntilStopped() async {
        try? await self.stopped.futureResult.get()
    }
}
