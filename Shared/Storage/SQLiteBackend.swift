import Foundation
import GRDB
import Logging

/// The SQLite backend: a GRDB `DatabasePool` (WAL) for a file, a `DatabaseQueue` for memory.
///
/// Why transactions are bridged this way: GRDB's transaction APIs take synchronous closures, but the
/// storage API takes async closures so that one service code path works on PostgreSQL too. So a write
/// transaction is `BEGIN IMMEDIATE`, then each statement, then `COMMIT`, each sent as its own
/// `writeWithoutTransaction` call on GRDB's serial writer queue (GRDB's `allowsUnsafeTransactions`
/// permits the transaction to stay open between calls). ``AsyncSerialLock`` makes sure no other
/// transaction's statements run on the writer connection in between. Every statement runs on GRDB's
/// dispatch queues via its async API, so no NIO event loop and no cooperative thread blocks on SQLite.
///
/// Reads: with a pool, each statement of a read session runs on a reader connection in parallel with
/// writes (read-committed visibility, like PostgreSQL's default). An in-memory queue has a single
/// connection, so reads take the writer lock too.
final class SQLiteBackend: Sendable {
    /// One way of running statements: on the writer (inside our transaction) or on readers.
    struct Access: Sendable {
        enum Target: Sendable {
            case writer(any DatabaseWriter)
            case reader(any DatabaseReader)
        }
        let target: Target

        func run(_ sql: String, _ values: [SQLValue], wantsRows: Bool) async throws(StorageError) -> (
            rows: [Row], affected: Int
        ) {
            let work: @Sendable (GRDB.Database) throws -> (rows: [Row], affected: Int) = { db in
                let arguments = StatementArguments(
                    values.map { SQLiteBackend.databaseValue($0) as (any DatabaseValueConvertible)? })
                if wantsRows {
                    let rows = try GRDB.Row.fetchAll(db, sql: sql, arguments: arguments).map(SQLiteBackend.row)
                    return (rows, 0)
                }
                try db.execute(sql: sql, arguments: arguments)
                return ([], db.changesCount)
            }
            do {
                switch self.target {
                case .writer(let writer): return try await writer.writeWithoutTransaction(work)
                case .reader(let reader): return try await reader.read(work)
                }
            } catch {
                throw SQLiteBackend.storageError(error)
            }
        }
    }

    let writer: any DatabaseWriter
    /// Whether readers are separate connections (a pool) or the writer itself (an in-memory queue).
    let hasReaders: Bool
    let lock = AsyncSerialLock()

    /// Opens `path`, or a private in-memory database when `path` is `nil`.
    init(path: String?, configuration: StorageConfiguration) throws(StorageError) {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(Self.seconds(configuration.busyTimeout))
        config.allowsUnsafeTransactions = true  // see the type's documentation
        config.maximumReaderCount = max(1, configuration.maximumConnections)
        do {
            if let path {
                self.writer = try DatabasePool(path: path, configuration: config)  // WAL by default
                self.hasReaders = true
            } else {
                self.writer = try DatabaseQueue(configuration: config)
                self.hasReaders = false
            }
        } catch {
            throw Self.storageError(error)
        }
    }

    /// Runs `body` in `BEGIN IMMEDIATE … COMMIT`, rolling back if it throws or a statement failed.
    func write<T: Sendable>(
        logger: Logger, _ body: (Transaction) async throws -> T
    ) async throws -> T {
        try await self.lock.withLock {
            let access = Access(target: .writer(self.writer))
            try await self.control("BEGIN IMMEDIATE TRANSACTION")
            let state = Transaction.State()
            defer { state.finish() }
            do {
                let value = try await body(Transaction(connection: .sqlite(access), state: state, logger: logger))
                if state.failed {
                    throw StorageError.invalidStatement("a statement failed inside the transaction; it was rolled back")
                }
                try await self.control("COMMIT TRANSACTION")
                return value
            } catch {
                await self.rollback(logger: logger)
                throw error
            }
        }
    }

    /// Runs one statement in SQLite's autocommit mode (a single statement is atomic on its own): one trip
    /// to the writer connection instead of three (`BEGIN`, the statement, `COMMIT`). `body` must run
    /// exactly one statement.
    func autocommit<T: Sendable>(logger: Logger, _ body: (Transaction) async throws -> T) async throws -> T {
        try await self.lock.withLock {
            let state = Transaction.State()
            defer { state.finish() }
            return try await body(
                Transaction(connection: .sqlite(Access(target: .writer(self.writer))), state: state, logger: logger))
        }
    }

    /// Runs `body` with read-only access.
    func read<T: Sendable>(logger: Logger, _ body: (Transaction) async throws -> T) async throws -> T {
        let state = Transaction.State()
        defer { state.finish() }
        if self.hasReaders {
            return try await body(
                Transaction(connection: .sqlite(Access(target: .reader(self.writer))), state: state, logger: logger))
        }
        return try await self.lock.withLock {
            try await body(
                Transaction(connection: .sqlite(Access(target: .reader(self.writer))), state: state, logger: logger))
        }
    }

    /// Closes the connections; later calls fail.
    func close() throws(StorageError) {
        do {
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
        do {
            try await self.writer.writeWithoutTransaction { try $0.execute(sql: sql) }
        } catch {
            throw Self.storageError(error)
        }
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
        let values: [SQLValue] = row.databaseValues.map { value in
            switch value.storage {
            case .null: .null
            case .int64(let value): .integer(value)
            case .double(let value): .real(value)
            case .string(let value): .text(value)
            case .blob(let data): .bytes([UInt8](data))
            }
        }
        return Row(columns: Array(row.columnNames), values: values)
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
