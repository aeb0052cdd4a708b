public import Logging
internal import NIOCore
internal import NIOPosix
internal import SkyportInterop
public import SkyportRPC
internal import Synchronization

/// A client transport to one target over multiplexed HTTP/2 connections: one per event loop of the
/// shared group, opened on the first call from that loop.
///
/// Why one per loop: a call is made from a task running on one of the loops (Swift concurrency runs on
/// them, and an RPC handler on its connection's loop). When the outgoing connection lives on another
/// loop, the call's request and its response each cross threads, and each crossing wakes a sleeping
/// thread. With a connection on the caller's loop the whole call stays on that thread.
///
/// A connection opens again after a GOAWAY or a failure. When the target cannot be reached, calls fail
/// at once with UNAVAILABLE.
public final class HTTP2ClientTransport: ClientTransport {
    private struct Connection: Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<ClientConnectionHandler>
    }

    private enum State {
        case idle
        case connecting(EventLoopFuture<Connection>)
        case ready(Connection)
        case closed
    }

    /// The connection of one event loop.
    private final class Slot: Sendable {
        let eventLoop: any EventLoop
        let state = Mutex(State.idle)

        init(eventLoop: any EventLoop) {
            self.eventLoop = eventLoop
        }

        /// The connection on `channel` takes no new calls: the next call opens a new one.
        func retire(_ channel: any Channel) {
            self.state.withLock { state in
                if case .ready(let connection) = state, connection.channel === channel {
                    state = .idle
                }
            }
        }
    }

    private let host: String
    private let port: Int
    private let configuration: HTTP2ClientConfiguration
    private let tls: TLSContext?
    private let logger: Logger
    private let slots: [Slot]

    /// Creates a transport to `host:port`; nothing connects until the first call.
    ///
    /// - Throws: `TLSError` when the TLS configuration cannot be loaded.
    public init(
        host: String, port: Int, configuration: HTTP2ClientConfiguration = .init(),
        logger: Logger = Logger(label: "skyport.http2.client")
    ) throws {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.logger = logger
        self.slots = SharedEventLoopGroup.group.makeIterator().map { Slot(eventLoop: $0) }
        if var tls = configuration.tls?.configuration {
            if tls.serverHostname == nil { tls.serverHostname = host }
            self.tls = try TLSContext(configuration: tls)
        } else {
            self.tls = nil
        }
    }

    /// Starts a call on the connection of the caller's event loop. A connection found closing (the
    /// server's GOAWAY or an idle close that this side has not processed yet) never saw the call, so the
    /// call goes once more on a new connection.
    public func openStream(method: MethodDescriptor, metadata: Metadata, options: CallOptions) async throws
        -> any ClientCallStream
    {
        // The deadline counts from now, so time spent waiting for the connection counts against it.
        let deadline = options.timeout.map { NIODeadline.now() + .init($0) }
        func open(on connection: Connection) async throws -> any ClientCallStream {
            let loop = connection.channel.eventLoop
            if loop.inEventLoop {
                return try connection.handler.value.openStream(
                    method: method, metadata: metadata, options: options, deadline: deadline)
            }
            return try await loop.submit {
                try connection.handler.value.openStream(
                    method: method, metadata: metadata, options: options, deadline: deadline)
            }.get()
        }
        let slot = self.slotOfCurrentLoop()
        do {
            return try await open(on: try await self.connection(in: slot, by: deadline))
        } catch is ClientConnectionHandler.Closing {
            // The handler retired the connection (so the next look opens a new one); the call never left.
            do {
                return try await open(on: try await self.connection(in: slot, by: deadline))
            } catch is ClientConnectionHandler.Closing {
                throw RPCError(code: .unavailable, message: "Connection is closing")
            }
        }
    }

    /// Closes the connections; calls in flight end with UNAVAILABLE and later calls fail.
    public func close() async {
        await withTaskGroup(of: Void.self) { group in
            for slot in self.slots {
                let previous = slot.state.withLock { state -> State in
                    defer { state = .closed }
                    return state
                }
                group.addTask {
                    switch previous {
                    case .ready(let connection):
                        try? await connection.channel.eventLoop.submit { connection.handler.value.close() }.get()
                        try? await connection.channel.closeFuture.get()
                    case .connecting(let future):
                        if let connection = try? await future.get() {
                            try? await connection.channel.close()
                        }
                    case .idle, .closed:
                        break
                    }
                }
            }
        }
    }

    /// The slot of the event loop this code runs on; the first slot elsewhere (a thread of no loop).
    private func slotOfCurrentLoop() -> Slot {
        if self.slots.count > 1, let current = MultiThreadedEventLoopGroup.currentEventLoop,
            let slot = self.slots.first(where: { $0.eventLoop === current })
        {
            return slot
        }
        return self.slots[0]
    }

    /// The connection to use, waiting for it to be set up if need be, but not beyond `deadline`
    /// (DEADLINE_EXCEEDED; the set-up carries on for later calls).
    private func connection(in slot: Slot, by deadline: NIODeadline?) async throws -> Connection {
        enum Lookup {
            case ready(Connection)
            case pending(EventLoopFuture<Connection>)
        }
        let lookup: Lookup = try slot.state.withLock { state in
            switch state {
            case .ready(let connection):
                return .ready(connection)
            case .connecting(let future):
                return .pending(future)
            case .idle:
                let future = self.connect(slot)
                state = .connecting(future)
                return .pending(future)
            case .closed:
                throw RPCError(code: .unavailable, message: "Transport is closed")
            }
        }
        let future: EventLoopFuture<Connection>
        switch lookup {
        case .ready(let connection): return connection
        case .pending(let pending): future = pending
        }
        var waited = future
        if let deadline {
            let promise = future.eventLoop.makePromise(of: Connection.self)
            let timer = future.eventLoop.scheduleTask(deadline: deadline) {
                promise.fail(RPCError(code: .deadlineExceeded, message: "Deadline exceeded while connecting"))
            }
            future.whenComplete { _ in timer.cancel() }
            future.cascade(to: promise)
            waited = promise.futureResult
        }
        do {
            return try await waited.get()
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .unavailable, message: "Cannot connect to \(self.host):\(self.port): \(error)")
        }
    }

    private func connect(_ slot: Slot) -> EventLoopFuture<Connection> {
        let eventLoop = slot.eventLoop
        let authority = "\(self.host):\(self.port)"
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.init(self.configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let handlers = channel.pipeline.syncOperations
                    if let tls = self.tls {
                        try handlers.addHandler(try TLSHandler(context: tls))
                    }
                    let handler = try ClientConnectionHandler(
                        configuration: self.configuration, authority: authority, eventLoop: channel.eventLoop,
                        logger: self.logger,
                        onRetire: { [weak slot] in slot?.retire(channel) })
                    try handlers.addHandler(handler)
                }
            }
        let connectTimeout = self.configuration.connectTimeout
        let future = bootstrap.connect(host: self.host, port: self.port).flatMap {
            channel -> EventLoopFuture<Connection> in
            let connection: Connection
            let ready: EventLoopPromise<Void>
            do {
                let handler = try channel.pipeline.syncOperations.handler(type: ClientConnectionHandler.self)
                connection = Connection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                ready = handler.ready
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
            let timeout = channel.eventLoop.scheduleTask(in: .init(connectTimeout)) {
                ready.fail(RPCError(code: .unavailable, message: "TLS handshake timed out"))
            }
            return ready.futureResult.map { () -> Connection in
                timeout.cancel()
                return connection
            }.flatMapErrorThrowing { (error: any Error) -> Connection in
                timeout.cancel()
                channel.close(promise: nil)
                throw error
            }
        }
        future.whenComplete { [weak slot] (result: Result<Connection, any Error>) in
            guard let slot else { return }
            slot.state.withLock { state in
                guard case .connecting(let pending) = state, pending === future else { return }
                switch result {
                case .success(let connection): state = .ready(connection)
                case .failure: state = .idle
                }
            }
        }
        return future
    }
}
