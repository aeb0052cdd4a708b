public import Logging
public import Metrics

/// A service's database: one API over SQLite (GRDB) and PostgreSQL (postgres-nio), chosen by URL.
///
/// Lifecycle: open with ``open(url:logger:metrics:)`` (or ``init(configuration:logger:metrics:)``), then
/// keep ``run()`` running for as long as the database is used — as a service in the service group,
/// before the RPC server — and apply the service's migrations with ``migrate(_:)``. For scripts and
/// tests, ``withDatabase(_:migrations:logger:metrics:_:)`` does all of this around a closure.
///
/// ```swift
/// let db = try Database.open(url: config.databaseURL, logger: logger)
/// async let running: Void = db.run()                      // or: add db.run() to the service group
/// try await db.migrate(AccountsStore.migrations)          // waits for the pool, applies what is new
/// try await db.write { tx in
///     try await tx.execute("INSERT INTO accounts (id, name, created_ms) VALUES (?, ?, ?)", [id, name, Date()])
///     try await tx.execute("INSERT INTO audit (account_id, action) VALUES (?, ?)", [id, "create"])
/// }
/// let rows = try await db.query("SELECT name FROM accounts WHERE id = ?", [id])
/// let name = try rows.first?.decode(String.self, "name")
/// // in a handler: catch let error as StorageError { throw error.rpcError }
/// ```
///
/// All work is async and runs off NIO event loops (GRDB's dispatch queues, postgres-nio's own loops).
/// Statements are logged at debug level with their SQL text and argument count, never their values.
public final class Database: Sendable {
    enum Backend: Sendable {
        case sqlite(SQLiteBackend)
        case postgres(PostgresBackend)
    }

    /// The databases whose transaction closures the current task is running in, to refuse a nested
    /// ``read(_:)``/``write(_:)`` on the same database (which could deadlock on SQLite's single writer)
    /// with an error instead.
    @TaskLocal static var openTransactions: [ObjectIdentifier] = []

    let backend: Backend
    let logger: Logger
    let metrics: StorageMetrics?
    /// The configuration this database was opened with (its description is the redacted URL).
    public let configuration: StorageConfiguration

    /// The dialect of the backend, for the few DDL spellings that differ.
    public var dialect: SQLDialect { self.configuration.dialect }

    /// Opens the database at `url` (see ``StorageConfiguration`` for the accepted forms) with defaults.
    ///
    /// - Throws: ``StorageError/invalidURL(url:reason:)`` (password redacted), or
    ///   ``StorageError/unavailable(_:)`` when a SQLite file cannot be opened.
    public static func open(
        url: String, logger: Logger, metrics: (any MetricsFactory)? = nil
    ) throws(StorageError) -> Database {
        try Database(configuration: StorageConfiguration(url: url), logger: logger, metrics: metrics)
    }

    /// Opens the database described by `configuration`.
    ///
    /// SQLite files are opened (and created) here. PostgreSQL connections are made lazily by the pool
    /// once ``run()`` runs, so a wrong password or an unreachable server shows up as
    /// ``StorageError/unavailable(_:)`` from the first statement. With `metrics`, every transaction's
    /// duration is recorded as `skyport_store_transaction_duration_seconds{kind, outcome}`, and SQLite's
    /// commits as `skyport_store_commits_total`.
    public init(
        configuration: StorageConfiguration, logger: Logger, metrics: (any MetricsFactory)? = nil
    ) throws(StorageError) {
        var logger = logger
        logger[metadataKey: "storage.url"] = "\(configuration.redactedURL)"
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics.map(StorageMetrics.init(factory:))
        switch configuration.backend {
        case .sqliteFile(let path):
            self.backend = .sqlite(try SQLiteBackend(path: path, configuration: configuration, metrics: self.metrics))
        case .sqliteInMemory:
            self.backend = .sqlite(try SQLiteBackend(path: nil, configuration: configuration, metrics: self.metrics))
        case .postgresTCP, .postgresSocket:
            self.backend = .postgres(PostgresBackend(configuration: configuration, logger: logger))
        }
        logger.debug("storage opened", metadata: ["storage.backend": "\(configuration.dialect.rawValue)"])
    }

    /// Keeps the database usable until the calling task is cancelled, then closes it and returns.
    ///
    /// PostgreSQL: runs the connection pool; no statement can run until this is running. Inside a
    /// swift-service-lifecycle `ServiceGroup` it also returns on graceful shutdown (postgres-nio
    /// listens for it). SQLite: checkpoints the write-ahead log of a database file in the background
    /// until cancelled (see `SQLiteBackend`), then closes the connections, checkpointing what is left.
    /// Call it once.
    public func run() async throws {
        switch self.backend {
        case .postgres(let backend):
            await backend.run()
        case .sqlite(let backend):
            await backend.checkpointUntilCancelled(logger: self.logger)
            try await backend.close(logger: self.logger)
        }
        self.logger.debug("storage closed")
    }

    /// Opens `configuration`, runs it in a child task, applies `migrations` (when there are any; an
    /// empty list leaves the database untouched), calls `body`, then shuts the database down: the
    /// scoped form of ``open(url:logger:metrics:)`` + ``run()`` + ``migrate(_:)``.
    @discardableResult
    public static func withDatabase<T: Sendable>(
        _ configuration: StorageConfiguration,
        migrations: [Migration] = [],
        logger: Logger,
        metrics: (any MetricsFactory)? = nil,
        _ body: (Database) async throws -> T
    ) async throws -> T {
        let database = try Database(configuration: configuration, logger: logger, metrics: metrics)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await database.run() }
            do {
                if !migrations.isEmpty { try await database.migrate(migrations) }
                let value = try await body(database)
                group.cancelAll()
                try await group.waitForAll()
                return value
            } catch {
                group.cancelAll()
                try? await group.waitForAll()
                throw error
            }
        }
    }

    /// Runs `body` in a read-write transaction: all of its statements commit together, or none do.
    ///
    /// The transaction rolls back if `body` throws (the error is rethrown unchanged) or if any of its
    /// statements failed. On SQLite it is a savepoint in a `BEGIN IMMEDIATE` transaction (writers queue
    /// up; readers carry on) whose commit it may share with the writes that queued meanwhile (group
    /// commit: it returns once that commit is done, and fails when that commit fails); on PostgreSQL it
    /// is `BEGIN` at the server's default isolation (read committed). Do not call
    /// ``read(_:)``/``write(_:)`` from inside `body`: use `tx`, and await nothing else in it (on SQLite the
    /// writer waits for `body`, and so do the transactions that share its commit).
    ///
    /// - Throws: what `body` throws, or ``StorageError``.
    public func write<T: Sendable>(_ body: (Transaction) async throws -> T) async throws -> T {
        guard !Self.openTransactions.contains(ObjectIdentifier(self)) else {
            throw StorageError.invalidStatement("nested transaction: use the transaction you were given")
        }
        self.logger.debug("storage write transaction")
        return try await StorageMetrics.measure(self.metrics, write: true) {
            try await Self.$openTransactions.withValue(Self.openTransactions + [ObjectIdentifier(self)]) {
                switch self.backend {
                case .sqlite(let backend):
                    try await backend.write(logger: self.logger, body)
                case .postgres(let backend):
                    try await backend.transaction(readOnly: false, logger: self.logger, body)
                }
            }
        }
    }

    /// Runs `body` with read-only access; writes inside it fail.
    ///
    /// Each statement sees the data committed when it starts (read committed on both backends); use
    /// ``write(_:)`` when several reads must see one consistent state. On SQLite files, reads run on
    /// reader connections in parallel with writes (WAL).
    public func read<T: Sendable>(_ body: (Transaction) async throws -> T) async throws -> T {
        guard !Self.openTransactions.contains(ObjectIdentifier(self)) else {
            throw StorageError.invalidStatement("nested transaction: use the transaction you were given")
        }
        return try await StorageMetrics.measure(self.metrics, write: false) {
            try await Self.$openTransactions.withValue(Self.openTransactions + [ObjectIdentifier(self)]) {
                switch self.backend {
                case .sqlite(let backend):
                    try await backend.read(logger: self.logger, body)
                case .postgres(let backend):
                    try await backend.transaction(readOnly: true, logger: self.logger, body)
                }
            }
        }
    }

    /// Runs one statement in its own write transaction (on SQLite, autocommit, or a share of a group's
    /// commit as in ``write(_:)``) and returns the number of rows it changed.
    @discardableResult
    public func execute(_ sql: String, _ arguments: [any SQLBindable] = []) async throws(StorageError) -> Int {
        try await Self.storageErrors {
            guard case .sqlite(let backend) = self.backend,
                !Self.openTransactions.contains(ObjectIdentifier(self))
            else {
                return try await self.write { try await $0.execute(sql, arguments) }
            }
            // One statement is atomic on its own in SQLite: no BEGIN/COMMIT round trips.
            return try await StorageMetrics.measure(self.metrics, write: true) {
                try await backend.autocommit(logger: self.logger) { try await $0.execute(sql, arguments) }
            }
        }
    }

    /// Runs one query with read-only access and returns its rows.
    public func query(_ sql: String, _ arguments: [any SQLBindable] = []) async throws(StorageError) -> [Row] {
        try await Self.storageErrors { try await self.read { try await $0.query(sql, arguments) } }
    }

    /// Narrows the untyped errors of ``write(_:)``/``read(_:)`` around a closure that only throws
    /// ``StorageError``.
    private static func storageErrors<T>(_ body: () async throws -> T) async throws(StorageError) -> T {
        do {
            return try await body()
        } catch let error as StorageError {
            throw error
        } catch is CancellationError {
            throw .cancelled
        } catch {
            throw .other("\(type(of: error))")
        }
    }
}
