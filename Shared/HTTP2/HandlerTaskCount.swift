import Synchronization

/// The handler tasks of one server that have started and not yet returned, so that shutdown can wait
/// for cancelled handlers to unwind.
final class HandlerTaskCount: Sendable {
    private let count = Atomic<Int>(0)

    /// A handler task is about to start.
    func started() {
        self.count.add(1, ordering: .relaxed)
    }

    /// A handler task has returned.
    func finished() {
        self.count.subtract(1, ordering: .relaxed)
    }

    /// Tasks running now.
    var running: Int { self.count.load(ordering: .relaxed) }
}
