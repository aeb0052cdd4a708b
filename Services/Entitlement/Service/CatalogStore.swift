public import SkyportStorage

/// The application catalogue and the entitlements, scoped to one developer: every read and write names
/// the developer, so one developer's applications are invisible to another (absent, not forbidden).
public struct CatalogStore: Sendable {
    /// What an instance of an application needs.
    public struct Profile: Sendable, Hashable {
        /// Normalised CPU units.
        public var cpuUnits: Int64
        /// MiB.
        public var memoryMiB: Int64
        /// The least GPU score.
        public var minGPUScore: Int64
        /// Sessions one instance serves at once.
        public var sessionsPerInstance: Int64
    }

    /// A registered application.
    public struct Application: Sendable, Hashable {
        /// `app_…`.
        public var appID: String
        /// Its developer.
        public var developerID: String
        /// Shown to people.
        public var name: String
        /// Whose host management owns its sessions.
        public var homeDatacentre: String
        /// Its resource profile.
        public var profile: Profile
        /// Unix milliseconds.
        public var createdAtMilliseconds: Int64
    }

    /// A published version.
    public struct Version: Sendable, Hashable {
        /// The application.
        public var appID: String
        /// e.g. `1.2.0`.
        public var versionID: String
        /// The command inside the package that starts it.
        public var launchCommand: String
        /// When sessions may start on it, Unix milliseconds.
        public var releaseAtMilliseconds: Int64
        /// Unix milliseconds.
        public var publishedAtMilliseconds: Int64
    }

    /// A user's right to use an application.
    public struct Entitlement: Sendable, Hashable {
        /// The application.
        public var appID: String
        /// The user, as the developer names them.
        public var userID: String
        /// The kind's wire value (purchase, subscription, trial, pre-order).
        public var kind: Int64
        /// 0 for none, else Unix milliseconds.
        public var expiresAtMilliseconds: Int64
        /// Unix milliseconds.
        public var grantedAtMilliseconds: Int64
        /// `nil` while in force.
        public var revokedAtMilliseconds: Int64?
    }

    let database: Database

    /// A store over `database` (migrated with ``EntitlementStore/migrations``).
    public init(database: Database) {
        self.database = database
    }

    /// Stores a new application.
    public func register(_ application: Application) async throws {
        try await self.database.execute(
            """
            INSERT INTO applications (app_id, developer_id, name, home_datacentre, cpu_units, memory_mib, min_gpu_score,
                sessions_per_instance, created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                application.appID, application.developerID, application.name, application.homeDatacentre,
                application.profile.cpuUnits, application.profile.memoryMiB, application.profile.minGPUScore,
                application.profile.sessionsPerInstance, application.createdAtMilliseconds,
            ])
    }

    /// The developer's application `appID`, or `nil` (also for another developer's application).
    public func application(_ appID: String, developerID: String) async throws -> Application? {
        try await self.database.read { tx in try await Self.application(appID, developerID: developerID, in: tx) }
    }

    /// The versions of an application, by release date.
    public func versions(of appID: String) async throws -> [Version] {
        try await self.database.read { tx in try await Self.versions(of: appID, in: tx) }
    }

    /// What a session request checks, read in one session: the developer's application, the user's
    /// entitlement to it, and its versions by release date.
    public func sessionFacts(appID: String, developerID: String, userID: String) async throws -> (
        application: Application?, entitlement: Entitlement?, versions: [Version]
    ) {
        try await self.database.read { tx in
            guard let application = try await Self.application(appID, developerID: developerID, in: tx) else {
                return (nil, nil, [])
            }
            return (
                application, try await Self.entitlements(appID: appID, userID: userID, in: tx).first,
                try await Self.versions(of: appID, in: tx)
            )
        }
    }

    private static func versions(of appID: String, in tx: Transaction) async throws -> [Version] {
        try await tx.query(
            """
            SELECT app_id, version_id, launch_command, release_at_ms, published_at_ms FROM app_versions
            WHERE app_id = ? ORDER BY release_at_ms, published_at_ms, version_id LIMIT 1000
            """, [appID]
        ).map { row in
            Version(
                appID: try row.decode(String.self, "app_id"), versionID: try row.decode(String.self, "version_id"),
                launchCommand: try row.decode(String.self, "launch_command"),
                releaseAtMilliseconds: try row.decode(Int64.self, "release_at_ms"),
                publishedAtMilliseconds: try row.decode(Int64.self, "published_at_ms"))
        }
    }

    /// Stores a version; `StorageError.uniqueViolation` when its id is taken.
    public func publish(_ version: Version) async throws {
        try await self.database.execute(
            """
            INSERT INTO app_versions (app_id, version_id, launch_command, release_at_ms, published_at_ms)
            VALUES (?, ?, ?, ?, ?)
            """,
            [
                version.appID, version.versionID, version.launchCommand, version.releaseAtMilliseconds,
                version.publishedAtMilliseconds,
            ])
    }

    /// Grants or replaces (and un-revokes) an entitlement.
    public func grant(_ entitlement: Entitlement) async throws {
        try await self.database.execute(
            """
            INSERT INTO entitlements (app_id, user_id, kind, expires_at_ms, granted_at_ms, revoked_at_ms)
            VALUES (?, ?, ?, ?, ?, NULL)
            ON CONFLICT (app_id, user_id) DO UPDATE SET kind = excluded.kind, expires_at_ms = excluded.expires_at_ms,
                granted_at_ms = excluded.granted_at_ms, revoked_at_ms = NULL
            """,
            [
                entitlement.appID, entitlement.userID, entitlement.kind, entitlement.expiresAtMilliseconds,
                entitlement.grantedAtMilliseconds,
            ])
    }

    /// Revokes an entitlement in force; returns it, or `nil` when there was none in force.
    public func revoke(appID: String, userID: String, now: Int64) async throws -> Entitlement? {
        try await self.database.write { tx in
            let changed = try await tx.execute(
                "UPDATE entitlements SET revoked_at_ms = ? WHERE app_id = ? AND user_id = ? AND revoked_at_ms IS NULL",
                [now, appID, userID])
            guard changed == 1 else { return nil }
            return try await Self.entitlements(appID: appID, userID: userID, in: tx).first
        }
    }

    /// The entitlements of an application, by user; at most 1,000.
    public func entitlements(appID: String) async throws -> [Entitlement] {
        try await self.database.read { tx in try await Self.entitlements(appID: appID, userID: nil, in: tx) }
    }

    private static func application(_ appID: String, developerID: String, in tx: Transaction) async throws
        -> Application?
    {
        guard
            let row = try await tx.queryFirst(
                """
                SELECT app_id, developer_id, name, home_datacentre, cpu_units, memory_mib, min_gpu_score,
                    sessions_per_instance, created_at_ms
                FROM applications WHERE app_id = ? AND developer_id = ?
                """, [appID, developerID])
        else { return nil }
        return Application(
            appID: try row.decode(String.self, "app_id"), developerID: try row.decode(String.self, "developer_id"),
            name: try row.decode(String.self, "name"), homeDatacentre: try row.decode(String.self, "home_datacentre"),
            profile: Profile(
                cpuUnits: try row.decode(Int64.self, "cpu_units"), memoryMiB: try row.decode(Int64.self, "memory_mib"),
                minGPUScore: try row.decode(Int64.self, "min_gpu_score"),
                sessionsPerInstance: try row.decode(Int64.self, "sessions_per_instance")),
            createdAtMilliseconds: try row.decode(Int64.self, "created_at_ms"))
    }

    private static func entitlements(appID: String, userID: String?, in tx: Transaction) async throws -> [Entitlement] {
        let rows =
            if let userID {
                try await tx.query(
                    """
                    SELECT app_id, user_id, kind, expires_at_ms, granted_at_ms, revoked_at_ms FROM entitlements
                    WHERE app_id = ? AND user_id = ?
                    """, [appID, userID])
            } else {
                try await tx.query(
                    """
                    SELECT app_id, user_id, kind, expires_at_ms, granted_at_ms, revoked_at_ms FROM entitlements
                    WHERE app_id = ? ORDER BY user_id LIMIT 1000
                    """, [appID])
            }
        return try rows.map { row in
            Entitlement(
                appID: try row.decode(String.self, "app_id"), userID: try row.decode(String.self, "user_id"),
                kind: try row.decode(Int64.self, "kind"),
                expiresAtMilliseconds: try row.decode(Int64.self, "expires_at_ms"),
                grantedAtMilliseconds: try row.decode(Int64.self, "granted_at_ms"),
                revokedAtMilliseconds: try row.decode(Int64?.self, "revoked_at_ms"))
        }
    }
}
