import Synchronization

/// How many of something one server owns are alive: its handler tasks that have started and not yet
/// returned (so shutdown can wait for cancelled handlers to unwind), or its connection handlers that
/// have not been freed (a closed connection must not leave one behind).
final class LiveCount: Sendable {
    private let count = Atomic<Int>(0)

    /// One more is alive.
    func started() {
        self.count.add(1, ordering: .relaxed)
    }

    /// One has ended.
    func finished() {
        self.count.subtract(1, ordering: .relaxed)
    }

    /// How many are alive now.
    var running: Int { self.count.load(ordering: .relaxed) }
}
