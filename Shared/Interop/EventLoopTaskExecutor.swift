public import NIOCore

/// Runs Swift tasks on one NIO event loop.
///
/// Two uses: an RPC handler runs on the loop of the connection that serves it, so the two need no hop
/// between threads; and the storage layer runs SQLite transactions on loops of its own, where a blocking
/// SQLite call holds up nothing else.
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop jobs run on.
    public let eventLoop: any EventLoop

    /// Creates an executor for `eventLoop`.
    public init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Runs `job` on the event loop.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
