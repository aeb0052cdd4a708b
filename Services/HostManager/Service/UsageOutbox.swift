import SkyportStorage

/// Usage records (instance and session start and end, with durations, per developer and application)
/// written in the same transaction as the change they record, so none is lost; the billing service
/// will collect them from the `usage_outbox` table (its `delivered_at_ms` marks what it took).
public enum UsageOutbox {
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

        /// Milliseconds between start and end.
        public var durationMilliseconds: Int64 { max(0, self.endedAtMilliseconds - self.startedAtMilliseconds) }
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
}
