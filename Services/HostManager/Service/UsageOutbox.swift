public import SkyportStorage

/// Usage records (instance and session start and end, with durations, per developer and application)
/// written in the same transaction as the change they record, so none is lost; the billing service
/// collects them from here.
public struct UsageOutbox: Sendable {
    /// One usage record.
    public struct Record: Sendable, Hashable {
        /// Unique and stable: `session:<id>` or `instance:<id>` (the billing idempotency key).
        public var recordID: String
        /// `session` or `instance`.
        public var kind: String
        /// The developer billed.
        public var developerID: String
        /// The application.
        public var appID: String
        /// Its version.
        public var versionID: String
        /// The session or instance id.
        public var subjectID: String
        /// Unix milliseconds.
        public var startedAtMilliseconds: Int64
        /// Unix milliseconds.
        public var endedAtMilliseconds: Int64
        /// Whether it has been handed to billing.
        public var delivered: Bool = false

        /// Milliseconds between start and end.
        public var durationMilliseconds: Int64 { max(0, self.endedAtMilliseconds - self.startedAtMilliseconds) }
    }

    let database: Database

    /// An outbox over `database`.
    public init(database: Database) {
        self.database = database
    }

    /// Appends `record` inside `tx`; a record id already present is left as it is.
    static func append(_ record: Record, at now: Int64, in tx: Transaction) async throws {
        try await tx.execute(
            """
            INSERT INTO usage_outbox (record_id, kind, developer_id, app_id, version_id, subject_id, started_at_ms,
                ended_at_ms, duration_ms, created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (record_id) DO NOTHING
            """,
            [
                record.recordID, record.kind, record.developerID, record.appID, record.versionID, record.subjectID,
                record.startedAtMilliseconds, record.endedAtMilliseconds, record.durationMilliseconds, now,
            ])
    }

    /// Records not yet delivered, oldest first, at most `limit`.
    public func pending(limit: Int = 500) async throws -> [Record] {
        try await self.database.query(
            """
            SELECT record_id, kind, developer_id, app_id, version_id, subject_id, started_at_ms, ended_at_ms
            FROM usage_outbox WHERE delivered_at_ms IS NULL ORDER BY created_at_ms, record_id LIMIT ?
            """, [limit]
        ).map { row in
            Record(
                recordID: try row.decode(String.self, "record_id"), kind: try row.decode(String.self, "kind"),
                developerID: try row.decode(String.self, "developer_id"), appID: try row.decode(String.self, "app_id"),
                versionID: try row.decode(String.self, "version_id"),
                subjectID: try row.decode(String.self, "subject_id"),
                startedAtMilliseconds: try row.decode(Int64.self, "started_at_ms"),
                endedAtMilliseconds: try row.decode(Int64.self, "ended_at_ms"))
        }
    }

    /// Marks records delivered.
    public func markDelivered(_ recordIDs: [String], at time: Int64) async throws {
        for recordID in recordIDs {
            try await self.database.execute(
                "UPDATE usage_outbox SET delivered_at_ms = ? WHERE record_id = ?", [time, recordID])
        }
    }
}
