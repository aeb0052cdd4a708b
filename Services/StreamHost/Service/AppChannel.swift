internal import NIOCore
internal import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The host end of one instance's host socket: a Unix domain socket the host listens on, which the
/// application connects to once. Newline-delimited JSON flows both ways (``HostToAppMessage``,
/// ``AppToHostMessage``).
///
/// The socket is a channel on the process's shared event loops, like every other connection of the
/// host: a line the application sends is framed and decoded on the loop that read it, and a message
/// for the application is written from there, with no threads of its own (it used to take two per
/// instance, woken through semaphores for every line). The rest of the host sees only ``events`` and
/// ``send(_:)``. The application's child process does
/// not inherit these descriptors: ``ChildProcess`` closes every other descriptor of the host in it.
final class AppChannel: Sendable {
    /// What the application sent: a message, a line the contract does not allow, or the end.
    enum Event: Sendable {
        case message(AppToHostMessage)
        case badLine(AppToHostMessage.DecodingError)
        /// A line over the 2 MiB limit: nothing more is read.
        case lineTooLong
    }

    /// Why the channel could not be set up.
    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// The socket's path (the application's `SKYPORT_HOST_SOCKET`).
    let path: String
    /// What the application sends, in order; finishes when the connection ends or the channel closes.
    let events: AsyncStream<Event>

    private struct State {
        /// Lines sent before the application connected, back to back; written when it does.
        var pending: [UInt8] = []
        var listener: (any Channel)?
        /// A connection was accepted (it may not be active yet): no other is.
        var claimed = false
        /// The application's connection once active.
        var connection: (any Channel)?
        var closed = false
    }

    private let state = Mutex(State())
    private let continuation: AsyncStream<Event>.Continuation

    /// Listens at `path`, replacing a stale socket file there. Synchronous, so that the runtime records
    /// the instance before any other job of its actor runs: the socket listens from here on, and a
    /// connection waits in its backlog until the channel is registered with a loop.
    init(path: String) throws(SetupError) {
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
        (self.events, self.continuation) = AsyncStream.makeStream(of: Event.self)
        ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { [weak self] channel in
                guard let self, self.claim() else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AppChannelHandler(owner: self))
                }
            }
            .withBoundSocket(descriptor)
            .whenComplete { [self] result in
                switch result {
                case .success(let listener):
                    // Kept until `close()`, even once the application connected: closing a listener
                    // while its accept is completing would close the accepted connection too. The
                    // socket file is gone by then, so nobody else can connect.
                    let keep = self.state.withLock { state in
                        guard !state.closed else { return false }
                        state.listener = listener
                        return true
                    }
                    if !keep { listener.close(promise: nil) }
                case .failure:
                    // The application cannot connect, so its launch fails ("exited before it was ready").
                    self.close()
                }
            }
    }

    /// Queues `message` for the application: written now when it is connected, when it connects
    /// otherwise; dropped once the channel is closed.
    func send(_ message: HostToAppMessage) {
        let line = message.encodedLine()
        let connection = self.state.withLock { state -> (any Channel)? in
            guard !state.closed else { return nil }
            if state.connection == nil { state.pending += line }
            return state.connection
        }
        // A failed write closes the connection (NIO's default), which ends `events`.
        connection?.writeAndFlush(ByteBuffer(bytes: line), promise: nil)
    }

    /// Closes the channel: the application sees its socket close, ``events`` finishes.
    func close() {
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
            // Its handler finishes `events` once it is closed.
            connection.close(promise: nil)
        } else if !taken.claimed {
            unlink(self.path)
            self.continuation.finish()
        }
        // A connection accepted but not yet active is closed by `connected(_:)`, which removed the file.
    }

    /// Accepts the application's connection, the first one only.
    private func claim() -> Bool {
        self.state.withLock { state in
            guard !state.closed, !state.claimed else { return false }
            state.claimed = true
            return true
        }
    }

    /// The application's connection is active: removes the socket file (nobody else may connect) and
    /// writes what was queued for it. On the connection's loop.
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

    /// Yields what the application sent.
    func yield(_ event: Event) {
        self.continuation.yield(event)
    }

    /// The application's connection ended (or never became active).
    func finish() {
        self.continuation.finish()
    }
}
