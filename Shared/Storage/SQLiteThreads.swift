internal import NIOCore
internal import NIOPosix
internal import SkyportInterop

/// The threads every SQLite database of a process runs its statements on: one for write transactions,
/// one for reads, and one that checkpoints the write-ahead log (see ``SQLiteBackend``).
///
/// A transaction's closure runs on one of them (Swift task executor preference), and each statement
/// calls SQLite synchronously from there. So a transaction costs two thread hops (in and out) whatever
/// its number of statements, instead of two per statement through GRDB's dispatch queues. Blocking
/// these threads is their purpose: no I/O and no other work runs on them.
///
/// One set per process, living as long as the process: a service has one database; tests open many,
/// which then share the threads (each database keeps its own writer lock and connections).
enum SQLiteThreads {
    private static let group = MultiThreadedEventLoopGroup(numberOfThreads: 3)
    private static let loops = Array(group.makeIterator())

    /// Runs write transactions (and everything of an in-memory database, whose one connection is the writer).
    static let writer = EventLoopTaskExecutor(eventLoop: loops[0])
    /// Runs read sessions on a database file's read-only connection.
    static let reader = EventLoopTaskExecutor(eventLoop: loops[1])
    /// Copies the write-ahead log into database files (checkpoints), so the writer never waits for it.
    static let checkpointer = EventLoopTaskExecutor(eventLoop: loops[2])

    /// Whether the caller runs on one of these threads, where a synchronous SQLite call is allowed.
    static var onStorageThread: Bool {
        writer.isCurrent || reader.isCurrent || checkpointer.isCurrent
    }
}
