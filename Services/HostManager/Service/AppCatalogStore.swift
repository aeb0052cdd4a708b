public import SkyportProto
public import SkyportStorage

/// The application versions host management knows (from entitlement's deployments and from the
/// sessions it creates), and the buffer-pool target of each.
public struct AppCatalogStore: Sendable {
    /// A buffer-pool target.
    public struct Target: Sendable, Hashable {
        /// The application.
        public var appID: String
        /// The version kept warm.
        public var versionID: String
        /// Warm idle instances to keep in this data centre.
        public var target: Int64
    }

    let database: Database

    /// A store over `database`.
    public init(database: Database) {
        self.database = database
    }

    /// Records (or refreshes) a version; true when it was not known before.
    @discardableResult
    public func upsert(_ launch: Skyport_Hostmgr_V1_AppLaunch, now: Int64) async throws -> Bool {
        try await self.database.write { tx in
            let known =
                try await tx.queryFirst(
                    "SELECT version_id FROM app_versions WHERE app_id = ? AND version_id = ?",
                    [launch.appId, launch.versionId]) != nil
            try await tx.execute(
                """
                INSERT INTO app_versions (app_id, version_id, launch, release_at_ms, deployed_at_ms) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (app_id, version_id) DO UPDATE SET launch = excluded.launch,
                    release_at_ms = excluded.release_at_ms
                """, [launch.appId, launch.versionId, launch.serializedBytes(), launch.releaseAtUnixMs, now])
            return !known
        }
    }

    /// Records a version unless it is known already.
    public func insertIfAbsent(_ launch: Skyport_Hostmgr_V1_AppLaunch, now: Int64) async throws {
        try await self.database.execute(
            """
            INSERT INTO app_versions (app_id, version_id, launch, release_at_ms, deployed_at_ms) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (app_id, version_id) DO NOTHING
            """, [launch.appId, launch.versionId, launch.serializedBytes(), launch.releaseAtUnixMs, now])
    }

    /// One version, when known.
    public func version(appID: String, versionID: String) async throws -> Skyport_Hostmgr_V1_AppLaunch? {
        try await self.database.read { tx in try await Self.version(appID: appID, versionID: versionID, in: tx) }
    }

    /// One version, when known, read inside `tx`.
    static func version(appID: String, versionID: String, in tx: Transaction) async throws
        -> Skyport_Hostmgr_V1_AppLaunch?
    {
        try await tx.queryFirst(
            "SELECT launch FROM app_versions WHERE app_id = ? AND version_id = ?", [appID, versionID]
        ).map { try Skyport_Hostmgr_V1_AppLaunch(serializedBytes: try $0.decode([UInt8].self, "launch")) }
    }

    /// The current version of each known application: the latest released at `now` (ties: the latest
    /// deployed).
    public func currentVersions(now: Int64) async throws -> [String: Skyport_Hostmgr_V1_AppLaunch] {
        var current: [String: Skyport_Hostmgr_V1_AppLaunch] = [:]
        for row in try await self.database.query(
            """
            SELECT app_id, launch FROM app_versions WHERE release_at_ms <= ?
            ORDER BY app_id, release_at_ms, deployed_at_ms, version_id
            """, [now])
        {
            current[try row.decode(String.self, "app_id")] = try Skyport_Hostmgr_V1_AppLaunch(
                serializedBytes: try row.decode([UInt8].self, "launch"))
        }
        return current
    }

    /// Sets a buffer target (0 removes it).
    public func setTarget(_ target: Target) async throws {
        if target.target == 0 {
            try await self.database.execute(
                "DELETE FROM buffer_targets WHERE app_id = ? AND version_id = ?", [target.appID, target.versionID])
            return
        }
        try await self.database.execute(
            """
            INSERT INTO buffer_targets (app_id, version_id, target) VALUES (?, ?, ?)
            ON CONFLICT (app_id, version_id) DO UPDATE SET target = excluded.target
            """, [target.appID, target.versionID, target.target])
    }

    /// Every buffer target, by application and version.
    public func targets() async throws -> [Target] {
        try await self.database.query(
            "SELECT app_id, version_id, target FROM buffer_targets ORDER BY app_id, version_id"
        )
        .map { row in
            Target(
                appID: try row.decode(String.self, "app_id"), versionID: try row.decode(String.self, "version_id"),
                target: try row.decode(Int64.self, "target"))
        }
    }

    /// Moves the buffer targets of older versions of `appID` to `versionID` (the largest wins), so a
    /// rollout keeps the pool's size while it replaces the instances.
    public func moveTargets(appID: String, to versionID: String) async throws {
        try await self.database.write { tx in
            let rows = try await tx.query(
                "SELECT version_id, target FROM buffer_targets WHERE app_id = ? AND version_id <> ?",
                [appID, versionID])
            guard !rows.isEmpty else { return }
            let largest = try rows.map { try $0.decode(Int64.self, "target") }.max() ?? 0
            try await tx.execute("DELETE FROM buffer_targets WHERE app_id = ? AND version_id <> ?", [appID, versionID])
            try await tx.execute(
                """
                INSERT INTO buffer_targets (app_id, version_id, target) VALUES (?, ?, ?)
                ON CONFLICT (app_id, version_id) DO UPDATE SET target = CASE
                    WHEN excluded.target > buffer_targets.target THEN excluded.target ELSE buffer_targets.target END
                """, [appID, versionID, largest])
        }
    }
}
