public import SkyportStorage

/// The redemption node's store: the data centres it routes to.
public struct RedemptionStore: Sendable {
    /// Released migrations; never edit one, add the next.
    public static let migrations = [
        Migration(
            version: 1, name: "data centres",
            sql: [
                """
                CREATE TABLE datacentres (
                    datacentre_id TEXT PRIMARY KEY,
                    hostmgr_address TEXT NOT NULL,
                    latitude DOUBLE PRECISION NOT NULL,
                    longitude DOUBLE PRECISION NOT NULL,
                    region TEXT NOT NULL,
                    updated_at_ms BIGINT NOT NULL
                )
                """
            ])
    ]

    /// One data centre.
    public struct DataCentre: Sendable, Hashable {
        /// e.g. `dc1`.
        public var id: String
        /// host:port of its host management.
        public var hostmgrAddress: String
        /// Degrees.
        public var latitude: Double
        /// Degrees.
        public var longitude: Double
        /// Free-form region name.
        public var region: String
        /// Unix milliseconds of the last change.
        public var updatedAtMilliseconds: Int64
    }

    let database: Database

    /// A store over `database`.
    public init(database: Database) {
        self.database = database
    }

    /// Inserts or replaces `datacentre` (one statement, portable `ON CONFLICT` upsert).
    public func upsert(_ datacentre: DataCentre) async throws {
        try await self.database.execute(
            """
            INSERT INTO datacentres (datacentre_id, hostmgr_address, latitude, longitude, region, updated_at_ms)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (datacentre_id) DO UPDATE SET hostmgr_address = excluded.hostmgr_address,
                latitude = excluded.latitude, longitude = excluded.longitude, region = excluded.region,
                updated_at_ms = excluded.updated_at_ms
            """,
            [
                datacentre.id, datacentre.hostmgrAddress, datacentre.latitude, datacentre.longitude, datacentre.region,
                datacentre.updatedAtMilliseconds,
            ])
    }

    /// The data centres, ordered by id; at most `limit`.
    public func all(limit: Int = 1000) async throws -> [DataCentre] {
        try await self.database.query(
            """
            SELECT datacentre_id, hostmgr_address, latitude, longitude, region, updated_at_ms
            FROM datacentres ORDER BY datacentre_id LIMIT ?
            """, [limit]
        ).map { row in
            DataCentre(
                id: try row.decode(String.self, "datacentre_id"),
                hostmgrAddress: try row.decode(String.self, "hostmgr_address"),
                latitude: try row.decode(Double.self, "latitude"), longitude: try row.decode(Double.self, "longitude"),
                region: try row.decode(String.self, "region"),
                updatedAtMilliseconds: try row.decode(Int64.self, "updated_at_ms"))
        }
    }
}
