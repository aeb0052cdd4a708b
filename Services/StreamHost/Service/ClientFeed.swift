import Synchronization

/// What the stream host sends one session's client: the application's outputs and termination
/// notices, then the end.
///
/// Created at provisioning, so outputs the application sends before the client connects wait for it
/// (up to ``capacity`` messages; more are dropped and logged). The end is not an item but a reason kept
/// beside the stream: it must arrive even when the buffer is full.
final class ClientFeed: Sendable {
    /// One message for the client.
    enum Item: Sendable, Equatable {
        case output([UInt8])
        case notice(deadlineUnixMilliseconds: Int64, reason: String)
    }

    /// Messages buffered for a client that is slow or not connected yet.
    static let capacity = 1024

    /// The items, ending when the session ends.
    let items: AsyncStream<Item>
    private let continuation: AsyncStream<Item>.Continuation
    private let reason = Mutex<String?>(nil)

    init() {
        (self.items, self.continuation) = AsyncStream.makeStream(
            of: Item.self, bufferingPolicy: .bufferingOldest(Self.capacity))
    }

    /// Queues `item`; false when the buffer was full and it was dropped.
    func send(_ item: Item) -> Bool {
        if case .dropped = self.continuation.yield(item) { return false }
        return true
    }

    /// Ends the feed with `reason` (the first reason wins).
    func end(reason: String) {
        self.reason.withLock { $0 = $0 ?? reason }
        self.continuation.finish()
    }

    /// Why the session ended, once it has.
    var endReason: String? { self.reason.withLock { $0 } }
}
