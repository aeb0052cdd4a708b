public import SkyportStorage

/// The forecast store: observed sessions per (app, region, network provider, hour).
public struct ForecastStore: Sendable {
    /// Released migrations; never edit one, add the next.
    public static let migrations = [
        Migration(
            version: 1, name: "demand windows",
            sql: [
                """
                CREATE TABLE demand_windows (
                    app_id TEXT NOT NULL,
                    region TEXT NOT NULL,
                    network_provider TEXT NOT NULL,
                    window_start_ms BIGINT NOT NULL,
                    sessions BIGINT NOT NULL,
                    PRIMARY KEY (app_id, region, network_provider, window_start_ms)
                )
                """
            ])
    ]

    /// The windows are hours.
    public static let windowMilliseconds: Int64 = 3_600_000

    /// One window's demand.
    public struct Window: Sendable, Hashable {
        /// Start of the hour, Unix milliseconds.
        public var startMilliseconds: Int64
        /// Sessions observed.
        public var sessions: Int64
    }

    let database: Database

    /// A store over `database`.
    public init(database: Database) {
        self.database = database
    }

    /// The start of the window holding `time`.
    public static func windowStart(of time: Int64) -> Int64 {
        time - ((time % Self.windowMilliseconds) + Self.windowMilliseconds) % Self.windowMilliseconds
    }

    /// Adds `sessions` to the bucket of `observedAt` atomically (concurrent recorders add up) and
    /// returns the bucket's new total.
    public func record(
        appID: String, region: String, provider: String, observedAt: Int64, sessions: Int64
    ) async throws -> Window {
        let start = Self.windowStart(of: observedAt)
        return try await self.database.write { tx in
            try await tx.execute(
                """
                INSERT INTO demand_windows (app_id, region, network_provider, window_start_ms, sessions)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (app_id, region, network_provider, window_start_ms)
                DO UPDATE SET sessions = demand_windows.sessions + excluded.sessions
                """, [appID, region, provider, start, sessions])
            let row = try await tx.queryFirst(
                """
                SELECT sessions FROM demand_windows
                WHERE app_id = ? AND region = ? AND network_provider = ? AND window_start_ms = ?
                """, [appID, region, provider, start])
            return Window(startMilliseconds: start, sessions: try row?.decode(Int64.self, "sessions") ?? sessions)
        }
    }

    /// The demand of an app in a region over every provider, per window: the newest `limit` windows,
    /// oldest first.
    public func demand(appID: String, region: String, limit: Int = 1000) async throws -> [Window] {
        try await self.database.query(
            """
            SELECT window_start_ms, SUM(sessions) AS sessions FROM demand_windows
            WHERE app_id = ? AND region = ? GROUP BY window_start_ms ORDER BY window_start_ms DESC LIMIT ?
            """, [appID, region, limit]
        ).map { row in
            Window(
                startMilliseconds: try row.decode(Int64.self, "window_start_ms"),
                sessions: try row.decode(Int64.self, "sessions"))
        }.reversed()
    }
}
