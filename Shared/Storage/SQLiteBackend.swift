import Foundation
import GRDB
import Logging
import Synchronization

/// The SQLite backend: a GRDB `DatabasePool` (WAL) for a file, a `DatabaseQueue` for memory.
///
/// Why transactions are bridged this way: GRDB's transaction APIs take synchronous closures, but the
/// storage API takes async closures so that one service code path works on PostgreSQL too. So a write
/// transaction is `SAVEPOINT` inside `BEGIN IMMEDIATE`, then each statement, then `RELEASE` (and a
/// `COMMIT` shared with the writes that came meanwhile: see ``write(logger:_:)``), each its own
/// `writeWithoutTransaction` call on the writer connection (GRDB's `allowsUnsafeTransactions` permits
/// the transaction to stay open between calls). ``AsyncSerialLock`` makes sure no other transaction's
/// statements run on the writer connection between a transaction's `SAVEPOINT` and `RELEASE`.
///
/// Where statements run: the closure of a transaction runs on ``SQLiteThreads`` (the writer thread, or
/// the reader thread for a read session on a file), and each statement calls GRDB synchronously there.
/// No NIO event loop of the network and no task of Swift's pool ever blocks on SQLite, and a
/// transaction pays two thread hops, not two per statement. A statement reached from another thread
/// (a closure that hopped elsewhere, say to an actor) falls back to GRDB's async API.
///
/// Statements of the data language (`SELECT`, `INSERT`, `UPDATE`, `DELETE`, `WITH`) and those that begin
/// and end transactions and savepoints are compiled once per connection and cached (GRDB's
/// `cachedStatement`); schema statements are compiled each time.
///
/// Reads: a database file has one read-only connection of its own (a `DatabaseQueue` beside the
/// writer's `DatabasePool`), called from the reader thread (GRDB's queue serializes any other caller),
/// so it needs no pool: each statement of a read session runs on it in parallel with writes (WAL), in
/// SQLite's autocommit mode (no `BEGIN`/`COMMIT` around each one; nor the schema-version query GRDB's
/// pool makes before each access), so each statement sees what was committed when it started (read
/// committed, like PostgreSQL's default). It is opened read-only, so a write in a read session fails. An
/// in-memory queue has a single connection, so its reads take the writer lock (committing a transaction
/// left open for a group, see ``write(logger:_:)``) and use GRDB's read-only `read`.
///
/// Checkpoints: SQLite's default copies the write-ahead log into the database file from inside the
/// commit that takes the log past 1,000 pages, fsyncs included, and every write queued behind that
/// commit waits for it. Here no connection checkpoints on commit (`wal_autocheckpoint = 0`); a third
/// connection of a database file runs a PASSIVE checkpoint every ``checkpointInterval`` after writes (an
/// idle database is looked at less often, up to every ``idleCheckpointInterval``), on
/// ``SQLiteThreads/checkpointer`` (``checkpointUntilCancelled(logger:)``), which never blocks the writer
/// or the readers. Under steady writes such a checkpoint never catches up with the log (commits land
/// while it copies), and SQLite starts the log over only when a write transaction begins after the log
/// was copied whole: so when the log has grown past ``logRestartPages``, the writer copies the few frames
/// left itself, between two transactions (a short pause), and its next transaction starts the log over.
/// Durability is unchanged: with `synchronous = NORMAL` (GRDB's setting for WAL) a commit was never
/// fsynced; the log is at each checkpoint, before the pages are copied. Closing the database
/// checkpoints what is left and removes the log.
final class SQLiteBackend: Sendable {
    /// One way of running statements: on the writer (inside our transaction) or read-only.
    struct Access: Sendable {
        enum Target: Sendable {
            case writer(any DatabaseWriter)
            /// The in-memory queue, read-only.
            case reader(any DatabaseReader)
            /// A database file's read-only connection.
            case readConnection(DatabaseQueue)
        }
        let target: Target

        func run(_ sql: String, _ values: [SQLValue], wantsRows: Bool) async throws(StorageError) -> (
            rows: [Row], affected: Int
        ) {
            let cacheable = Self.isCacheable(sql)
            let work: @Sendable (GRDB.Database) throws -> (rows: [Row], affected: Int) = { db in
                let arguments = StatementArguments(
                    values.map { SQLiteBackend.databaseValue($0) as (any DatabaseValueConvertible)? })
                if cacheable {
                    let statement = try db.cachedStatement(sql: sql)
                    if wantsRows {
                        // The column names are read once and shared by every row.
                        let columns = statement.columnNames
                        let cursor = try GRDB.Row.fetchCursor(statement, arguments: arguments)
                        var rows: [Row] = []
                        while let row = try cursor.next() {
                            rows.append(Row(columns: columns, values: row.databaseValues.map(SQLiteBackend.value)))
                        }
                        return (rows, 0)
                    }
                    try statement.execute(arguments: arguments)
                    return ([], db.changesCount)
                }
                if wantsRows {
                    let rows = try GRDB.Row.fetchAll(db, sql: sql, arguments: arguments).map(SQLiteBackend.row)
                    return (rows, 0)
                }
                try db.execute(sql: sql, arguments: arguments)
                return ([], db.changesCount)
            }
            do {
                if SQLiteThreads.onStorageThread { return try self.runHere(work) }
                switch self.target {
                case .writer(let writer): return try await writer.writeWithoutTransaction(work)
                case .reader(let reader): return try await reader.read(work)
                case .readConnection(let connection): return try await connection.read(work)
                }
            } catch {
                throw SQLiteBackend.storageError(error)
            }
        }

        /// Runs `work` synchronously on this thread (one of ``SQLiteThreads``).
        private func runHere<T>(_ work: (GRDB.Database) throws -> T) throws -> T {
            switch self.target {
            case .writer(let writer): try writer.writeWithoutTransaction(work)
            case .reader(let reader): try reader.read(work)
            case .readConnection(let connection): try connection.inDatabase(work)
            }
        }

        /// Whether `sql` is a data statement or one that begins or ends a transaction or savepoint: worth
        /// compiling once and caching.
        static func isCacheable(_ sql: String) -> Bool {
            let keyword = sql.utf8.drop(while: { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }).prefix(6)
            let upper = String(decoding: keyword.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
            return ["SELECT", "INSERT", "UPDATE", "DELETE", "SAVEPO", "RELEAS", "COMMIT"].contains(upper)
                || upper.hasPrefix("WITH") || upper.hasPrefix("BEGIN")
        }
    }

    let writer: any DatabaseWriter
    /// A database file's read-only connection (reads of an in-memory database use the writer).
    let readConnection: DatabaseQueue?
    /// A database file's connection for checkpoints only.
    let checkpointConnection: DatabaseQueue?
    /// How often committed pages are copied from the write-ahead log into the database file.
    static let checkpointInterval = Duration.milliseconds(100)
    /// How often an idle database file is looked at for writes to checkpoint.
    static let idleCheckpointInterval = Duration.seconds(1)
    /// The log size (pages of 4 KiB) past which the writer finishes a checkpoint so the log starts over.
    static let logRestartPages = 1_000
    /// Whether anything was written since the last checkpoint (an idle database is not checkpointed).
    private let written = Atomic(false)
    let lock = AsyncSerialLock()
    /// The write transaction a writer left open for the next one, with its members so far (group commit).
    private let openGroup = Mutex<(group: CommitGroup, members: Int, succeeded: Int)?>(nil)
    /// The most write transactions one commit carries: bounds how long the first waits for the others.
    static let maximumGroup = 16
    /// Write transactions on their way to the writer thread (counted before the hop, until they hold the
    /// lock): a finished one leaves its transaction open for them.
    private let arriving = Atomic(0)
    let metrics: StorageMetrics?

    /// Opens `path`, or a private in-memory database when `path` is `nil`.
    init(path: String?, configuration: StorageConfiguration, metrics: StorageMetrics?) throws(StorageError) {
        self.metrics = metrics
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(Self.seconds(configuration.busyTimeout))
        config.allowsUnsafeTransactions = true  // see the type's documentation
        config.maximumReaderCount = 1  // the pool's readers go unused: reads have their own connection
        config.prepareDatabase { db in
            // Checkpoints run on their own connection and thread (see the type's documentation).
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
        }
        do {
            if let path {
                self.writer = try DatabasePool(path: path, configuration: config)  // WAL by default
                var readOnly = config
                readOnly.readonly = true
                self.readConnection = try DatabaseQueue(path: path, configuration: readOnly)
                self.checkpointConnection = try DatabaseQueue(path: path, configuration: config)
            } else {
                self.writer = try DatabaseQueue(configuration: config)
                self.readConnection = nil
                self.checkpointConnection = nil
            }
        } catch {
            throw Self.storageError(error)
        }
    }

    /// Runs `body` as a write transaction, rolling back its changes if it throws or a statement failed.
    ///
    /// Group commit: `body` runs inside a savepoint of a `BEGIN IMMEDIATE` transaction, which the previous
    /// writer may have left open. When it is done and another write is on its way to the writer thread
    /// (``arriving``), the transaction stays open for that one (up to ``maximumGroup`` members), and this
    /// one returns once the last member committed them all; otherwise it commits now. So under load one
    /// commit (one append of the changed pages to the log) carries several transactions, and alone a
    /// transaction commits at once.
    /// The group commits or fails as one: a member returns only after the commit that made its changes
    /// durable, and when that commit fails every member of the group gets the error. A member that fails
    /// rolls back to its savepoint, which undoes only its own changes.
    func write<T: Sendable>(
        logger: Logger, _ body: (Transaction) async throws -> T
    ) async throws -> T {
        try await self.member(singleStatement: false, logger: logger, body)
    }

    /// Runs one statement in SQLite's autocommit mode (a single statement is atomic on its own): one trip
    /// to the writer connection instead of three (`BEGIN`, the statement, `COMMIT`). `body` must run
    /// exactly one statement. When the previous writer left a transaction open for this one, the statement
    /// joins it and shares its commit (a failing statement undoes only itself).
    func autocommit<T: Sendable>(logger: Logger, _ body: (Transaction) async throws -> T) async throws -> T {
        try await self.member(singleStatement: true, logger: logger, body)
    }

    /// A write on the writer thread, as a member of the open group (a new one for a transaction, none for a
    /// single statement when no group is open: it runs in autocommit mode).
    private func member<T: Sendable>(
        singleStatement: Bool, logger: Logger, _ body: (Transaction) async throws -> T
    ) async throws -> T {
        self.arriving.add(1, ordering: .relaxed)
        return try await withTaskExecutorPreference(SQLiteThreads.writer) {
            await self.lock.acquire()
            self.arriving.subtract(1, ordering: .relaxed)
            let access = Transaction.Connection.sqlite(Access(target: .writer(self.writer)))
            let group: CommitGroup
            if let open = self.joinOpenGroup() {
                group = open
            } else if singleStatement {
                defer {
                    self.written.store(true, ordering: .relaxed)
                    self.lock.release()
                }
                let value = try await Transaction.run(body, on: access, logger: logger)
                self.metrics?.commits.increment()
                return value
            } else {
                do {
                    try await self.control("BEGIN IMMEDIATE TRANSACTION")
                } catch {
                    self.lock.release()
                    throw error
                }
                group = CommitGroup()
                self.openGroup.withLock { $0 = (group, 1, 0) }
            }
            let outcome: Result<T, any Error>
            do {
                if !singleStatement { try await self.control("SAVEPOINT member") }
                let value = try await Transaction.run(body, on: access, logger: logger)
                if !singleStatement { try await self.control("RELEASE member") }
                outcome = .success(value)
            } catch {
                outcome = .failure(error)
                await self.undoMember(of: group, toSavepoint: !singleStatement, logger: logger)
            }
            return try await self.finishMember(of: group, outcome, logger: logger)
        }
    }

    /// Runs `body` with read-only access.
    func read<T: Sendable>(logger: Logger, _ body: (Transaction) async throws -> T) async throws -> T {
        let state = Transaction.State()
        defer { state.finish() }
        if let connection = self.readConnection {
            let transaction = Transaction(
                connection: .sqlite(Access(target: .readConnection(connection))), state: state, logger: logger)
            return try await withTaskExecutorPreference(SQLiteThreads.reader) { try await body(transaction) }
        }
        let transaction = Transaction(
            connection: .sqlite(Access(target: .reader(self.writer))), state: state, logger: logger)
        return try await withTaskExecutorPreference(SQLiteThreads.writer) {
            try await self.lock.withLock {
                await self.commitOpenGroup(logger: logger)
                return try await body(transaction)
            }
        }
    }

    /// Checkpoints every ``checkpointInterval`` after writes until the calling task is cancelled (a database
    /// file; an in-memory database just waits). An idle database is looked at less and less often, up to
    /// every ``idleCheckpointInterval``. A checkpoint that failed or left frames behind is tried again
    /// next time, written or not; a failure is logged.
    func checkpointUntilCancelled(logger: Logger) async {
        guard let connection = self.checkpointConnection else {
            // Task.sleep ends early, by throwing, exactly when the task is cancelled.
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(86_400)) }
            return
        }
        var interval = Self.checkpointInterval
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            guard self.written.exchange(false, ordering: .relaxed) else {
                interval = min(interval * 2, Self.idleCheckpointInterval)
                continue
            }
            interval = Self.checkpointInterval
            do {
                var outcome = try await withTaskExecutorPreference(SQLiteThreads.checkpointer) {
                    try connection.inDatabase { db in try Self.checkpoint(db) }
                }
                if outcome.logPages >= Self.logRestartPages {
                    // Even a complete copy may have raced a transaction that then appended to the log.
                    outcome = try await self.finishCheckpoint(logger: logger)
                }
                if !outcome.complete { self.written.store(true, ordering: .relaxed) }
            } catch {
                self.written.store(true, ordering: .relaxed)
                logger.warning(
                    "storage checkpoint failed; retrying", metadata: ["storage.error": "\(Self.storageError(error))"])
            }
        }
    }

    /// A PASSIVE checkpoint on `db`: whether it copied the whole log, and the log's size in pages.
    private static func checkpoint(_ db: GRDB.Database) throws -> (complete: Bool, logPages: Int) {
        // One row: busy (1 when it could not run), pages in the log, pages copied (-1, -1 outside WAL).
        guard let row = try GRDB.Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)") else { return (true, 0) }
        let busy: Int = row[0]
        let log: Int = row[1]
        let copied: Int = row[2]
        return (busy == 0 && copied >= log, log)
    }

    /// Copies what the background checkpoint left (frames committed while it ran) on the writer between
    /// transactions, where no commit can add frames, so the next write starts the log over.
    private func finishCheckpoint(logger: Logger) async throws -> (complete: Bool, logPages: Int) {
        // Synchronous on the writer thread (in an async context the call would pick GRDB's async API).
        func checkpointHere() throws -> (complete: Bool, logPages: Int) {
            try self.writer.writeWithoutTransaction { db in try Self.checkpoint(db) }
        }
        return try await withTaskExecutorPreference(SQLiteThreads.writer) {
            try await self.lock.withLock {
                await self.commitOpenGroup(logger: logger)
                return try checkpointHere()
            }
        }
    }

    /// The group of the transaction the previous writer left open, joined; `nil` when none is open.
    private func joinOpenGroup() -> CommitGroup? {
        self.openGroup.withLock { open in
            open?.members += 1
            return open?.group
        }
    }

    /// After a member of `group` ended (`outcome`): leaves the transaction open for the next writer when
    /// one is on its way and the group has room, or commits the group; then returns the member's value
    /// once its changes are committed. The caller holds the lock; this releases it.
    private func finishMember<T>(
        of group: CommitGroup, _ outcome: Result<T, any Error>, logger: Logger
    ) async throws -> T {
        // Whether the group is still open (SQLite may have ended it) and has room for another member.
        let (open, hasRoom) = self.openGroup.withLock { open -> (Bool, Bool) in
            guard var current = open, current.group === group else { return (false, false) }
            if case .success = outcome { current.succeeded += 1 }
            open = current
            return (true, current.members < Self.maximumGroup)
        }
        if open && hasRoom && self.arriving.load(ordering: .relaxed) > 0 {
            self.lock.release()
            let value = try outcome.get()  // a failed member rolled back its own changes: nothing to wait for
            try await group.committed()
            return value
        }
        if open { await self.commit(group, logger: logger) }
        self.lock.release()
        let value = try outcome.get()
        try await group.committed()
        return value
    }

    /// Commits the transaction a writer left open, if any: for a holder of the lock that is no write
    /// transaction (a read of an in-memory database, a checkpoint).
    private func commitOpenGroup(logger: Logger) async {
        guard let group = self.openGroup.withLock({ $0?.group }) else { return }
        await self.commit(group, logger: logger)
    }

    /// Commits the open transaction and tells its group; when the commit fails, rolls back and gives every
    /// member the error. A group whose members all failed (each undid its changes) is rolled back.
    private func commit(_ group: CommitGroup, logger: Logger) async {
        let succeeded = self.openGroup.withLock { open in
            defer { open = nil }
            return open?.succeeded ?? 0
        }
        guard succeeded > 0 else {
            await self.rollback(logger: logger)
            group.finish(.success(()))
            return
        }
        do {
            try await self.control("COMMIT TRANSACTION")
            self.written.store(true, ordering: .relaxed)
            self.metrics?.commits.increment()
            group.finish(.success(()))
        } catch {
            await self.rollback(logger: logger)
            group.finish(.failure(error))
        }
    }

    /// After a member of `group` failed: undoes its changes (back to its savepoint, when it ran in one; a
    /// single statement undid itself). Should SQLite have rolled back the whole transaction (an I/O or
    /// memory error, `RAISE(ROLLBACK)` in a trigger), the group is over: its members get the error.
    private func undoMember(of group: CommitGroup, toSavepoint: Bool, logger: Logger) async {
        let writer = self.writer
        let result = await Task {
            try await writer.writeWithoutTransaction { db -> Bool in
                guard db.isInsideTransaction else { return false }
                if toSavepoint {
                    try db.execute(sql: "ROLLBACK TRANSACTION TO SAVEPOINT member")
                    try db.execute(sql: "RELEASE SAVEPOINT member")
                }
                return true
            }
        }.result
        switch result {
        case .success(true):
            return
        case .success(false):
            self.openGroup.withLock { $0 = nil }
            group.finish(.failure(StorageError.unavailable("SQLite rolled back the transaction")))
        case .failure(let error):
            let error = Self.storageError(error)
            logger.error("storage rollback to savepoint failed", metadata: ["storage.error": "\(error)"])
            self.openGroup.withLock { $0 = nil }
            await self.rollback(logger: logger)
            group.finish(.failure(error))
        }
    }

    /// Closes the connections once the writer is free (the transaction in flight done, one left open for a
    /// group committed); later calls fail.
    func close(logger: Logger) async throws {
        try await withTaskExecutorPreference(SQLiteThreads.writer) {
            try await self.lock.withLock {
                await self.commitOpenGroup(logger: logger)
                try self.closeConnections()
            }
        }
    }

    private func closeConnections() throws(StorageError) {
        do {
            try self.checkpointConnection?.close()
            try self.readConnection?.close()
            if let pool = self.writer as? DatabasePool {
                try pool.close()
            } else if let queue = self.writer as? DatabaseQueue {
                try queue.close()
            }
        } catch {
            throw Self.storageError(error)
        }
    }

    private func control(_ sql: String) async throws(StorageError) {
        _ = try await Access(target: .writer(self.writer)).run(sql, [], wantsRows: false)
    }

    /// Rolls back in an unstructured task: a cancelled caller must still leave the writer connection
    /// outside any transaction, and GRDB refuses to start work for a cancelled task.
    private func rollback(logger: Logger) async {
        let writer = self.writer
        let result = await Task {
            try await writer.writeWithoutTransaction { db in
                if db.isInsideTransaction { try db.execute(sql: "ROLLBACK TRANSACTION") }
            }
        }.result
        if case .failure(let error) = result {
            logger.error("storage rollback failed", metadata: ["storage.error": "\(Self.storageError(error))"])
        }
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    static func databaseValue(_ value: SQLValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .integer(let value): value.databaseValue
        case .real(let value): value.databaseValue
        case .text(let value): value.databaseValue
        case .bytes(let value): Data(value).databaseValue
        case .bool(let value): value.databaseValue
        }
    }

    static func row(_ row: GRDB.Row) -> Row {
        Row(columns: Array(row.columnNames), values: row.databaseValues.map(Self.value))
    }

    static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: .null
        case .int64(let value): .integer(value)
        case .double(let value): .real(value)
        case .string(let value): .text(value)
        case .blob(let data): .bytes([UInt8](data))
        }
    }

    /// Maps GRDB and SQLite failures to ``StorageError``. Messages are SQLite's, which never include
    /// bound values (GRDB's `publicStatementArguments` stays off).
    static func storageError(_ error: any Error) -> StorageError {
        if let error = error as? StorageError { return error }
        if error is CancellationError { return .cancelled }
        guard let error = error as? DatabaseError else { return .other("\(type(of: error))") }
        let message = error.message ?? "SQLite error \(error.extendedResultCode.rawValue)"
        switch error.extendedResultCode {
        case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
            // "UNIQUE constraint failed: users.email" → "users.email"
            let constraint = message.split(separator: ":", maxSplits: 1).last.map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            return .uniqueViolation(constraint: constraint)
        case .SQLITE_CONSTRAINT_FOREIGNKEY:
            return .foreignKeyViolation(constraint: nil)
        default:
            break
        }
        switch error.resultCode {
        case .SQLITE_CONSTRAINT: return .constraintViolation(message)
        case .SQLITE_BUSY, .SQLITE_LOCKED: return .unavailable("database is locked (\(message))")
        case .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return .unavailable(message)
        case .SQLITE_INTERRUPT: return .cancelled
        default: return .other(message)
        }
    }
}

/// Write transactions that share one commit: each member that finished waits here for it.
final class CommitGroup: Sendable {
    private struct State {
        var outcome: Result<Void, any Error>?
        var waiters: [CheckedContinuation<Void, any Error>] = []
    }
    private let state = Mutex(State())

    /// Returns once the group committed; throws the error when the commit failed.
    func committed() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = self.state.withLock { state -> Result<Void, any Error>? in
                if state.outcome == nil { state.waiters.append(continuation) }
                return state.outcome
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// Ends the group with `outcome` and wakes its members.
    func finish(_ outcome: Result<Void, any Error>) {
        let waiters = self.state.withLock { state in
            state.outcome = outcome
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: outcome) }
    }
}
