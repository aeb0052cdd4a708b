package import NIOCore

/// Runs Swift tasks on one NIO event loop.
///
/// Two uses inside the package: an RPC handler runs on the loop of the connection that serves it, so the
/// two need no hop between threads; and the storage layer runs SQLite transactions on loops of its own,
/// where a blocking SQLite call holds up nothing else. Not public: NIO stays inside the package.
package final class EventLoopTaskExecutor: TaskExecutor {
    private let eventLoop: any EventLoop

    /// Creates an executor for `eventLoop`.
    package init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Whether the caller runs on this executor's loop.
    package var isCurrent: Bool { self.eventLoop.inEventLoop }

    /// Runs `job` on the event loop.
    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
