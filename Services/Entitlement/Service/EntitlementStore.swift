public import SkyportSecurity
public import SkyportStorage
import SkyportService

/// The entitlement store: developers and their API keys (hashes only). The catalogue and entitlements,
/// in the same database, are ``CatalogStore``'s.
public struct EntitlementStore: APIKeyStore {
    /// Released migrations of the whole entitlement database; never edit one, add the next.
    public static let migrations = [
        Migration(version: 1, name: "developers and API keys") { dialect in
            [
                """
                CREATE TABLE developers (
                    developer_id TEXT PRIMARY KEY,
                    display_name TEXT NOT NULL,
                    email TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE api_keys (
                    key_id TEXT PRIMARY KEY,
                    developer_id TEXT NOT NULL REFERENCES developers (developer_id),
                    key_hash \(dialect.bytesType) NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    revoked_at_ms BIGINT
                )
                """,
                "CREATE INDEX api_keys_by_developer ON api_keys (developer_id)",
            ]
        },
        Migration(
            version: 2, name: "applications, versions and entitlements",
            sql: [
                """
                CREATE TABLE applications (
                    app_id TEXT PRIMARY KEY,
                    developer_id TEXT NOT NULL REFERENCES developers (developer_id),
                    name TEXT NOT NULL,
                    home_datacentre TEXT NOT NULL,
                    cpu_units BIGINT NOT NULL,
                    memory_mib BIGINT NOT NULL,
                    min_gpu_score BIGINT NOT NULL,
                    sessions_per_instance BIGINT NOT NULL,
                    created_at_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX applications_by_developer ON applications (developer_id)",
                """
                CREATE TABLE app_versions (
                    app_id TEXT NOT NULL REFERENCES applications (app_id),
                    version_id TEXT NOT NULL,
                    launch_command TEXT NOT NULL,
                    release_at_ms BIGINT NOT NULL,
                    published_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (app_id, version_id)
                )
                """,
                """
                CREATE TABLE entitlements (
                    app_id TEXT NOT NULL REFERENCES applications (app_id),
                    user_id TEXT NOT NULL,
                    kind BIGINT NOT NULL,
                    expires_at_ms BIGINT NOT NULL,
                    granted_at_ms BIGINT NOT NULL,
                    revoked_at_ms BIGINT,
                    PRIMARY KEY (app_id, user_id)
                )
                """,
            ]),
    ]

    /// One developer account.
    public struct Developer: Sendable, Hashable {
        /// `dev_…`.
        public var developerID: String
        /// Shown to people.
        public var displayName: String
        /// Contact address.
        public var email: String
        /// Unix milliseconds.
        public var createdAtMilliseconds: Int64
        /// Ids of the active (unrevoked) keys.
        public var activeKeyIDs: [String]
    }

    let database: Database
    let hasher: APIKeyHasher

    /// A store over `database`, hashing keys with `hasher`.
    public init(database: Database, hasher: APIKeyHasher) {
        self.database = database
        self.hasher = hasher
    }

    /// Creates a developer and a first API key in one transaction; returns both (the key only here).
    public func createDeveloper(displayName: String, email: String, now: Int64) async throws -> (Developer, APIKey) {
        let developerID = ServiceSupport.newIdentifier(prefix: "dev")
        let key = try APIKey.generate()
        let record = self.hasher.record(for: key, principal: developerID)
        try await self.database.write { tx in
            try await tx.execute(
                "INSERT INTO developers (developer_id, display_name, email, created_at_ms) VALUES (?, ?, ?, ?)",
                [developerID, displayName, email, now])
            try await Self.insert(record, now: now, in: tx)
        }
        let developer = Developer(
            developerID: developerID, displayName: displayName, email: email, createdAtMilliseconds: now,
            activeKeyIDs: [record.keyID])
        return (developer, key)
    }

    /// Adds an API key to developer `developerID`; the developer with it and the key (only here), or `nil`
    /// when there is no such developer.
    public func createAPIKey(developerID: String, now: Int64) async throws -> (Developer, APIKey)? {
        let key = try APIKey.generate()
        let record = self.hasher.record(for: key, principal: developerID)
        return try await self.database.write { tx in
            guard
                try await tx.queryFirst("SELECT 1 AS one FROM developers WHERE developer_id = ?", [developerID]) != nil
            else { return nil }
            try await Self.insert(record, now: now, in: tx)
            return try await Self.developer(id: developerID, in: tx).map { ($0, key) }
        }
    }

    /// Stores the hash of a new key of `record.principal` inside `tx`.
    private static func insert(_ record: StoredAPIKey, now: Int64, in tx: Transaction) async throws {
        try await tx.execute(
            "INSERT INTO api_keys (key_id, developer_id, key_hash, created_at_ms) VALUES (?, ?, ?, ?)",
            [record.keyID, record.principal, record.hash, now])
    }

    /// Revokes developer `developerID`'s active key `keyID`; the developer after it, or `nil` when it has
    /// no such active key.
    public func revokeAPIKey(developerID: String, keyID: String, now: Int64) async throws -> Developer? {
        try await self.database.write { tx in
            let revoked = try await tx.execute(
                "UPDATE api_keys SET revoked_at_ms = ? WHERE key_id = ? AND developer_id = ? AND revoked_at_ms IS NULL",
                [now, keyID, developerID])
            guard revoked == 1 else { return nil }
            return try await Self.developer(id: developerID, in: tx)
        }
    }

    /// The developer `developerID`, or `nil`.
    public func developer(id developerID: String) async throws -> Developer? {
        try await self.database.read { tx in try await Self.developer(id: developerID, in: tx) }
    }

    private static func developer(id developerID: String, in tx: Transaction) async throws -> Developer? {
        guard
            let row = try await tx.queryFirst(
                "SELECT developer_id, display_name, email, created_at_ms FROM developers WHERE developer_id = ?",
                [developerID])
        else { return nil }
        let keys = try await tx.query(
            """
            SELECT key_id FROM api_keys WHERE developer_id = ? AND revoked_at_ms IS NULL
            ORDER BY created_at_ms, key_id
            """,
            [developerID])
        return Developer(
            developerID: try row.decode(String.self, "developer_id"),
            displayName: try row.decode(String.self, "display_name"), email: try row.decode(String.self, "email"),
            createdAtMilliseconds: try row.decode(Int64.self, "created_at_ms"),
            activeKeyIDs: try keys.map { try $0.decode(String.self, "key_id") })
    }

    /// `APIKeyStore`: the hash of an active key, with its developer as principal.
    public func lookUp(keyID: String) async throws -> StoredAPIKey? {
        guard
            let row = try await self.database.query(
                "SELECT key_id, developer_id, key_hash FROM api_keys WHERE key_id = ? AND revoked_at_ms IS NULL",
                [keyID]
            ).first
        else { return nil }
        return StoredAPIKey(
            keyID: try row.decode(String.self, "key_id"), hash: try row.decode([UInt8].self, "key_hash"),
            principal: try row.decode(String.self, "developer_id"))
    }
}
