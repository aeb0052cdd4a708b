import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The host end of one instance's host socket: a Unix domain socket the host listens on, which the
/// application connects to once. Newline-delimited JSON flows both ways (``HostToAppMessage``,
/// ``AppToHostMessage``).
///
/// Socket calls block, so they run on two threads of the channel's own (a reader that accepts and then
/// reads, a writer), never on the Swift concurrency pool; the rest of the host sees ``messages`` and
/// ``send(_:)``. Every descriptor is close-on-exec, so no other child inherits this application's
/// connection (which would keep it open after the host is gone).
final class AppChannel: Sendable {
    /// What the reader saw: a message, a line the contract does not allow, or the end.
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

    private struct WriterState {
        /// The queued lines, back to back.
        var queue: [UInt8] = []
        var closed = false
    }

    private let listener: Int32
    private let continuation: AsyncStream<Event>.Continuation
    private let writer = Mutex(WriterState())
    /// One signal per queued line and one for close: the writer thread sleeps on it.
    private let writerWakeup = DispatchSemaphore(value: 0)
    /// The connected socket once accepted; -1 before.
    private let connection = Mutex<Int32>(-1)
    private let closed = Atomic<Bool>(false)
    /// The reader and the writer each release once; the last one closes the socket, so neither ever
    /// uses a descriptor number the other has closed (and the system may have reused).
    private let users = Mutex(2)

    /// Listens at `path` (replacing a stale socket file there) and starts the threads.
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
        self.listener = descriptor
        (self.events, self.continuation) = AsyncStream.makeStream(of: Event.self)
        let reader = Thread { [self] in self.readLoop() }
        reader.name = "app-channel-reader"
        reader.start()
        let writerThread = Thread { [self] in self.writeLoop() }
        writerThread.name = "app-channel-writer"
        writerThread.start()
    }

    /// Queues `message` for the application; dropped once the channel is closed.
    func send(_ message: HostToAppMessage) {
        let queued = self.writer.withLock { state in
            guard !state.closed else { return false }
            state.queue += message.encodedLine()
            return true
        }
        if queued { self.writerWakeup.signal() }
    }

    /// Closes the channel: the application sees its socket close, ``events`` finishes.
    func close() {
        guard !self.closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        self.writer.withLock { $0.closed = true }
        self.writerWakeup.signal()
        // Wakes a blocked read (the reader then releases the socket); the accept loop polls `closed`.
        self.connection.withLock { descriptor in
            if descriptor >= 0 { _ = shutdown(descriptor, Int32(SHUT_RDWR)) }
        }
    }

    private func readLoop() {
        defer {
            self.continuation.finish()
            self.release()
        }
        guard let descriptor = self.accept() else { return }
        var framer = LineFramer()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            do {
                for line in try framer.append(buffer[0..<count]) {
                    do {
                        self.continuation.yield(.message(try AppToHostMessage(line: line)))
                    } catch {
                        self.continuation.yield(.badLine(error))
                    }
                }
            } catch {
                // Reading stops; the runtime ends the instance. The socket stays open until then, so the
                // application blocks rather than failing on a closed socket first.
                self.continuation.yield(.lineTooLong)
                return
            }
        }
    }

    /// Waits for the application's one connection, polling so that ``close()`` ends the wait; then
    /// stops listening and removes the socket file (nobody else may connect).
    private func accept() -> Int32? {
        defer {
            Glibc.close(self.listener)
            unlink(self.path)
        }
        var poller = pollfd(fd: self.listener, events: Int16(POLLIN), revents: 0)
        while !self.closed.load(ordering: .acquiring) {
            let ready = poll(&poller, 1, 100)
            guard ready > 0 else {
                if ready < 0 && errno != EINTR { return nil }
                continue
            }
            // Children close every inherited descriptor anyway; close-on-exec is a second guard (there is
            // no accept4 in Swift's Glibc module).
            let descriptor = Glibc.accept(self.listener, nil, nil)
            guard descriptor >= 0 else {
                if errno == EINTR || errno == EAGAIN || errno == ECONNABORTED { continue }
                return nil
            }
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            let stillOpen = self.connection.withLock { connection -> Bool in
                connection = descriptor
                return !self.closed.load(ordering: .acquiring)
            }
            // A close() between the check above and storing the descriptor did not see it.
            if !stillOpen { _ = shutdown(descriptor, Int32(SHUT_RDWR)) }
            self.writerWakeup.signal()
            return descriptor
        }
        return nil
    }

    private func writeLoop() {
        defer { self.release() }
        while true {
            self.writerWakeup.wait()
            let descriptor = self.connection.withLock { $0 }
            // Everything queued goes in one write; the signals of the lines taken along wake this loop
            // to an empty queue, which it passes over.
            let next = self.writer.withLock { state -> [UInt8]?? in
                if state.closed { return .some(nil) }
                // Lines wait for the application to connect.
                guard descriptor >= 0, !state.queue.isEmpty else { return nil }
                defer { state.queue = [] }
                return state.queue
            }
            switch next {
            case .some(nil): return
            case nil: continue
            case .some(let batch?):
                if !Self.write(batch, to: descriptor) {
                    self.close()
                    return
                }
            }
        }
    }

    private static func write(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: an application that went away must not kill the host with SIGPIPE.
            let written = bytes.withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    private func release() {
        let last = self.users.withLock { users -> Bool in
            users -= 1
            return users == 0
        }
        guard last else { return }
        let descriptor = self.connection.withLock { $0 }
        if descriptor >= 0 { Glibc.close(descriptor) }
    }
}
