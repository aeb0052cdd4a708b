import struct Foundation.Date

extension Database {
    /// The table that records applied migrations.
    public static let migrationsTable = "skyport_migrations"

    /// The PostgreSQL advisory-lock key taken while creating the migrations table ("skyport" in ASCII).
    static let migrationLockKey: Int64 = 0x736B_7970_6F72_74

    /// Applies the migrations in `migrations` that the database does not have yet, in version order,
    /// each in its own transaction, and records them in `skyport_migrations` (version, name, checksum,
    /// applied_at as epoch milliseconds).
    ///
    /// Refuses (``StorageError/migration(_:)``, nothing applied) when:
    /// - versions are not positive and strictly increasing, or a name is empty;
    /// - an applied migration's checksum differs from the code's (it was edited after release);
    /// - the database has a migration this code does not know (an older build on a newer database);
    /// - a new migration's version is below the newest applied one (history was rewritten).
    ///
    /// Safe when several replicas start at once: each migration re-checks the table inside its
    /// transaction, which holds SQLite's write lock or a PostgreSQL table lock.
    public func migrate(_ migrations: [Migration]) async throws(StorageError) {
        var previous = 0
        for migration in migrations {
            guard migration.version > previous else {
                throw .migration(
                    "versions must be positive and strictly increasing: "
                        + "\(migration.version) ('\(migration.name)') follows \(previous)"
                )
            }
            guard !migration.name.isEmpty else { throw .migration("migration \(migration.version) has no name") }
            previous = migration.version
        }
        let table = Self.migrationsTable
        let dialect = self.dialect
        do {
            try await self.write { tx in
                if dialect == .postgres {
                    // Concurrent `CREATE TABLE IF NOT EXISTS` can collide in PostgreSQL's catalog; a
                    // transaction-scoped advisory lock serialises replicas starting at the same time.
                    try await tx.execute("SELECT pg_advisory_xact_lock(?)", [Self.migrationLockKey])
                }
                try await tx.execute(
                    """
                    CREATE TABLE IF NOT EXISTS \(table) (
                        version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
                        applied_at BIGINT NOT NULL)
                    """)
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw .other("\(type(of: error))")
        }
        let byVersion = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })

        let applied = try await self.query("SELECT version, name, checksum FROM \(table) ORDER BY version")
        var newestApplied = 0
        var appliedVersions = Set<Int>()
        for row in applied {
            let version = try row.decode(Int.self, "version")
            try Self.verify(
                version: version, name: try row.decode(String.self, "name"),
                checksum: try row.decode(String.self, "checksum"), against: byVersion, dialect: dialect)
            appliedVersions.insert(version)
            newestApplied = max(newestApplied, version)
        }
        for migration in migrations where !appliedVersions.contains(migration.version) {
            guard migration.version > newestApplied else {
                throw .migration(
                    "migration \(migration.version) ('\(migration.name)') is new but older than "
                        + "the newest applied migration \(newestApplied)"
                )
            }
        }

        for migration in migrations where !appliedVersions.contains(migration.version) {
            let checksum = migration.checksum(for: dialect)
            let applied: Bool
            do {
                applied = try await self.write { tx in
                    if dialect == .postgres {
                        // Serialises concurrent starts; SQLite's BEGIN IMMEDIATE already holds the write lock.
                        try await tx.execute("LOCK TABLE \(table) IN EXCLUSIVE MODE")
                    }
                    if let row = try await tx.queryFirst(
                        "SELECT name, checksum FROM \(table) WHERE version = ?", [migration.version])
                    {
                        try Self.verify(
                            version: migration.version, name: try row.decode(String.self, "name"),
                            checksum: try row.decode(String.self, "checksum"), against: byVersion, dialect: dialect)
                        return false  // another replica applied it meanwhile
                    }
                    for statement in migration.sql(for: dialect) {
                        try await tx.execute(statement)
                    }
                    try await tx.execute(
                        "INSERT INTO \(table) (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                        [migration.version, migration.name, checksum, Date()])
                    return true
                }
            } catch let error as StorageError {
                throw .migration("migration \(migration.version) ('\(migration.name)') failed: \(error)")
            } catch {
                throw .migration("migration \(migration.version) ('\(migration.name)') failed: \(type(of: error))")
            }
            if applied {
                // Info, not debug: a schema change is an operational event worth one line in the log.
                self.logger.info(
                    "storage migration applied",
                    metadata: [
                        "storage.migration.version": "\(migration.version)",
                        "storage.migration.name": "\(migration.name)",
                    ])
            }
        }
    }

    private static func verify(
        version: Int, name: String, checksum: String, against byVersion: [Int: Migration], dialect: SQLDialect
    ) throws(StorageError) {
        guard let migration = byVersion[version] else {
            throw .migration(
                "the database has migration \(version) ('\(name)'), which this code does not know: "
                    + "refusing to start an older build on a newer database"
            )
        }
        guard migration.checksum(for: dialect) == checksum else {
            throw .migration(
                "migration \(version) ('\(migration.name)') differs from the one applied to the database "
                    + "(checksum mismatch): migrations are never edited after release; add a new migration instead"
            )
        }
    }
}
