import Logging
import Synchronization

/// A database transaction (or, from ``Database/read(_:)``, a read-only session) handed to a closure.
///
/// Every statement is one SQL command in the portable subset (``SQLDialect``) with `?` placeholders and
/// one argument per placeholder. A failed statement dooms the transaction on both backends: PostgreSQL
/// aborts a transaction after any error, so SQLite is made to behave the same way, and the enclosing
/// ``Database/write(_:)`` rolls back and throws even if the closure caught the error. Use
/// `ON CONFLICT DO NOTHING` rather than catching a unique violation to carry on.
///
/// The value is only valid inside its closure; using it afterwards throws.
public struct Transaction: Sendable {
    /// The backend connection this transaction talks to.
    enum Connection: Sendable {
        /// A SQLite connection reached through GRDB; statements run synchronously on ``SQLiteThreads``.
        case sqlite(SQLiteBackend.Access)
        /// A leased PostgreSQL connection inside `BEGIN … COMMIT`.
        case postgres(PostgresBackend.Access)
    }

    /// Whether the transaction is still usable and whether one of its statements failed.
    final class State: Sendable {
        private struct Flags {
            var finished = false
            var failed = false
        }
        private let flags = Mutex(Flags())

        var failed: Bool { self.flags.withLock { $0.failed } }
        var finished: Bool { self.flags.withLock { $0.finished } }
        func markFailed() { self.flags.withLock { $0.failed = true } }
        func finish() { self.flags.withLock { $0.finished = true } }
    }

    let connection: Connection
    let state: State
    let logger: Logger

    /// Runs `body` with a transaction over `connection` (the backend's `BEGIN` or `SAVEPOINT` already
    /// sent, or nothing for a single statement in autocommit mode), then keeps the rule that a failed
    /// statement dooms the transaction even if `body` caught its error. The value is unusable once this
    /// returns; the backend then commits, or rolls back when this throws.
    static func run<T>(
        _ body: (Transaction) async throws -> T, on connection: Connection, logger: Logger,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> T {
        let state = State()
        defer { state.finish() }
        let value = try await body(Transaction(connection: connection, state: state, logger: logger))
        if state.failed {
            throw StorageError.invalidStatement("a statement failed inside the transaction; it was rolled back")
        }
        return value
    }

    /// The dialect of the backend, for the rare statement that must differ.
    public var dialect: SQLDialect {
        switch self.connection {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// Runs a statement that returns no rows (or whose rows are ignored).
    ///
    /// - Returns: the number of rows inserted, updated or deleted.
    @discardableResult
    public func execute(_ sql: String, _ arguments: [any SQLBindable] = []) async throws(StorageError) -> Int {
        try await self.run(sql, arguments, wantsRows: false).affected
    }

    /// Runs a query and returns all its rows.
    public func query(_ sql: String, _ arguments: [any SQLBindable] = []) async throws(StorageError) -> [Row] {
        try await self.run(sql, arguments, wantsRows: true).rows
    }

    /// Runs a query and returns its first row, or `nil` when it has none.
    public func queryFirst(_ sql: String, _ arguments: [any SQLBindable] = []) async throws(StorageError) -> Row? {
        try await self.query(sql, arguments).first
    }

    private func run(
        _ sql: String, _ arguments: [any SQLBindable], wantsRows: Bool
    ) async throws(StorageError) -> (rows: [Row], affected: Int) {
        guard !self.state.finished else {
            throw .invalidStatement("the transaction is over: do not use it outside its closure")
        }
        guard !self.state.failed else {
            throw .invalidStatement("an earlier statement in this transaction failed; it will be rolled back")
        }
        let placeholders = SQLPlaceholders.count(in: sql)
        guard placeholders == arguments.count else {
            throw .invalidStatement("\(placeholders) placeholder(s) but \(arguments.count) argument(s)")
        }
        let values = arguments.map { $0.sqlValue }
        // The SQL text is logged, never the values: they may be personal data or secrets.
        self.logger.debug(
            "storage statement", metadata: ["storage.sql": "\(sql)", "storage.arguments": "\(values.count)"])
        do {
            switch self.connection {
            case .sqlite(let access):
                return try await access.run(sql, values, wantsRows: wantsRows)
            case .postgres(let access):
                return try await access.run(sql, values, wantsRows: wantsRows)
            }
        } catch {
            self.state.markFailed()
            throw error
        }
    }
}
