public import SkyportStorage

/// The distribution store: one package per (app, version).
public struct DistributionStore: Sendable {
    /// Released migrations; never edit one, add the next.
    public static let migrations = [
        Migration(
            version: 1, name: "packages",
            sql: [
                """
                CREATE TABLE packages (
                    app_id TEXT NOT NULL,
                    version TEXT NOT NULL,
                    size_bytes BIGINT NOT NULL,
                    sha256 TEXT NOT NULL,
                    registered_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (app_id, version)
                )
                """
            ])
    ]

    /// One package.
    public struct Package: Sendable, Hashable {
        /// The application.
        public var appID: String
        /// The version.
        public var version: String
        /// Size in bytes.
        public var sizeBytes: Int64
        /// SHA-256, lower-case hex.
        public var sha256: String
        /// Unix milliseconds.
        public var registeredAtMilliseconds: Int64
    }

    let database: Database

    /// A store over `database`.
    public init(database: Database) {
        self.database = database
    }

    /// Inserts `package`; a second package for the same version fails with
    /// `StorageError.uniqueViolation` (ALREADY_EXISTS).
    public func insert(_ package: Package) async throws {
        try await self.database.execute(
            "INSERT INTO packages (app_id, version, size_bytes, sha256, registered_at_ms) VALUES (?, ?, ?, ?, ?)",
            [package.appID, package.version, package.sizeBytes, package.sha256, package.registeredAtMilliseconds])
    }

    /// The packages of `appID`, ordered by version; at most `limit`.
    public func packages(appID: String, limit: Int = 1000) async throws -> [Package] {
        try await self.database.query(
            """
            SELECT app_id, version, size_bytes, sha256, registered_at_ms FROM packages WHERE app_id = ?
            ORDER BY version LIMIT ?
            """, [appID, limit]
        ).map { row in
            Package(
                appID: try row.decode(String.self, "app_id"), version: try row.decode(String.self, "version"),
                sizeBytes: try row.decode(Int64.self, "size_bytes"), sha256: try row.decode(String.self, "sha256"),
                registeredAtMilliseconds: try row.decode(Int64.self, "registered_at_ms"))
        }
    }
}
