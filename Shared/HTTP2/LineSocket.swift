internal import NIOCore
internal import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A Unix domain socket that one local peer connects to, carrying newline-delimited lines both ways: the
/// stream host's socket to an application instance (its contract, JSON per line, is the stream host's).
///
/// The socket is a channel on the shared event loops (``SharedEventLoopGroup``), like every other
/// connection of the process, with no threads of its own. What the peer sends is framed into lines
/// (``LineFramer``) on the loop that read it and handed to `onEvent` there, in order; ``send(_:)`` writes
/// from there too. Only the first connection is accepted, and the socket file is removed once it is.
/// The descriptors are not close-on-exec (NIO's accepted sockets never are): a process spawned by the
/// owner must close what it inherits (`ProcessSpawner` does).
public final class LineSocket: Sendable {
    /// What the peer did.
    public enum Event: Sendable {
        /// One line, without its newline (empty lines are skipped).
        case line([UInt8])
        /// A line over the limit: nothing more is read, but the socket stays open (the peer blocks rather
        /// than failing on a closed socket first) until ``close()``.
        case lineTooLong
        /// The connection ended, the socket was closed, or reading stopped; the last event, sent once.
        case ended
    }

    /// Why the socket could not be set up.
    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The socket's path.
    public let path: String

    private struct State {
        /// Lines sent before the peer connected, back to back; written when it does.
        var pending: [UInt8] = []
        var listener: (any Channel)?
        /// A connection was accepted (it may not be active yet): no other is.
        var claimed = false
        /// The peer's connection once active.
        var connection: (any Channel)?
        var closed = false
    }

    private let state = Mutex(State())
    private let maximumLineBytes: Int
    private let onEvent: @Sendable (Event) -> Void
    private let ended = Atomic(false)

    /// Listens at `path`, replacing a stale socket file there; `onEvent` gets what the peer sends, lines
    /// up to `maximumLineBytes`. Synchronous, so that a caller in an actor records the socket before any
    /// other job of the actor runs: it listens from here on, and a connection waits in its backlog until
    /// the channel is registered with a loop.
    public init(
        path: String, maximumLineBytes: Int, onEvent: @escaping @Sendable (Event) -> Void
    ) throws(SetupError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            throw SetupError(description: "socket path \(path) is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SetupError(description: "socket: \(String(cString: strerror(errno)))") }
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(descriptor, 1) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw SetupError(description: "cannot listen at \(path): \(reason)")
        }
        self.path = path
        self.maximumLineBytes = maximumLineBytes
        self.onEvent = onEvent
        ServerBootstrap(group: SharedEventLoopGroup.group)
            .childChannelInitializer { [weak self] channel in
                guard let self, self.claim() else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        LineSocketHandler(owner: self, maximumLineBytes: self.maximumLineBytes))
                }
            }
            .withBoundSocket(descriptor)
            .whenComplete { [self] result in
                switch result {
                case .success(let listener):
                    // Kept until `close()`, even once the peer connected: closing a listener
                    // while its accept is completing would close the accepted connection too. The
                    // socket file is gone by then, so nobody else can connect.
                    let keep = self.state.withLock { state in
                        guard !state.closed else { return false }
                        state.listener = listener
                        return true
                    }
                    if !keep { listener.close(promise: nil) }
                case .failure:
                    // The peer cannot connect; the owner sees `ended`.
                    self.close()
                }
            }
    }

    /// Queues `line` (newline included) for the peer: written now when it is connected, when it connects
    /// otherwise; dropped once the socket is closed.
    public func send(_ line: [UInt8]) {
        let connection = self.state.withLock { state -> (any Channel)? in
            guard !state.closed else { return nil }
            if state.connection == nil { state.pending += line }
            return state.connection
        }
        // A failed write closes the connection (NIO's default), which sends `ended`.
        connection?.writeAndFlush(ByteBuffer(bytes: line), promise: nil)
    }

    /// Closes the socket: the peer sees it close, and `ended` follows.
    public func close() {
        let taken = self.state.withLock {
            state -> (listener: (any Channel)?, connection: (any Channel)?, claimed: Bool)? in
            guard !state.closed else { return nil }
            state.closed = true
            state.pending = []
            defer { state.listener = nil }
            return (state.listener, state.connection, state.claimed)
        }
        guard let taken else { return }
        // A listener still being registered is closed when its registration completes.
        taken.listener?.close(promise: nil)
        if let connection = taken.connection {
            // Its handler sends `ended` once it is closed.
            connection.close(promise: nil)
        } else if !taken.claimed {
            unlink(self.path)
            self.finish()
        }
        // A connection accepted but not yet active is closed by `connected(_:)`, which removed the file.
    }

    /// Accepts the peer's connection, the first one only.
    private func claim() -> Bool {
        self.state.withLock { state in
            guard !state.closed, !state.claimed else { return false }
            state.claimed = true
            return true
        }
    }

    /// The peer's connection is active: removes the socket file (nobody else may connect) and writes what
    /// was queued for it. On the connection's loop.
    func connected(_ channel: any Channel) {
        let pending = self.state.withLock { state -> [UInt8]? in
            guard !state.closed else { return nil }
            state.connection = channel
            defer { state.pending = [] }
            return state.pending
        }
        unlink(self.path)
        guard let pending else {
            channel.close(promise: nil)
            return
        }
        if !pending.isEmpty { channel.writeAndFlush(ByteBuffer(bytes: pending), promise: nil) }
    }

    /// Hands `event` to the owner, unless `ended` was sent.
    func deliver(_ event: Event) {
        guard !self.ended.load(ordering: .acquiring) else { return }
        self.onEvent(event)
    }

    /// Sends `ended`, once: the connection ended (or never became active), or reading stopped.
    func finish() {
        guard !self.ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        self.onEvent(.ended)
    }
}
