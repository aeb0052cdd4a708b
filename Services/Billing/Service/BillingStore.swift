public import SkyportStorage

/// The billing store: usage events, one row per idempotency key.
public struct BillingStore: Sendable {
    /// Released migrations; never edit one, add the next.
    public static let migrations = [
        Migration(
            version: 1, name: "usage events",
            sql: [
                """
                CREATE TABLE usage_events (
                    event_id TEXT PRIMARY KEY,
                    idempotency_key TEXT NOT NULL UNIQUE,
                    developer_id TEXT NOT NULL,
                    app_id TEXT NOT NULL,
                    kind BIGINT NOT NULL,
                    quantity BIGINT NOT NULL,
                    occurred_at_ms BIGINT NOT NULL,
                    ingested_at_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX usage_events_by_developer ON usage_events (developer_id, kind)",
            ])
    ]

    /// One stored usage event.
    public struct Event: Sendable, Hashable {
        /// The event's id.
        public var eventID: String
        /// The caller's key for exactly-once ingestion.
        public var idempotencyKey: String
        /// Whose usage it is.
        public var developerID: String
        /// Which application.
        public var appID: String
        /// The usage kind's wire value.
        public var kind: Int64
        /// How much.
        public var quantity: Int64
        /// When it happened, Unix milliseconds.
        public var occurredAtMilliseconds: Int64

        /// Whether `other` describes the same usage (ignoring the event id).
        func sameUsage(as other: Event) -> Bool {
            self.idempotencyKey == other.idempotencyKey && self.developerID == other.developerID
                && self.appID == other.appID && self.kind == other.kind && self.quantity == other.quantity
                && self.occurredAtMilliseconds == other.occurredAtMilliseconds
        }
    }

    /// The outcome of ``ingest(_:now:)``.
    public enum IngestOutcome: Sendable, Hashable {
        /// Stored now.
        case stored(eventID: String)
        /// The same event was stored before under this key.
        case duplicate(eventID: String)
        /// Another event was stored under this key.
        case conflict
    }

    /// Per-kind totals of one developer.
    public struct Total: Sendable, Hashable {
        /// The usage kind's wire value.
        public var kind: Int64
        /// Sum of quantities.
        public var quantity: Int64
        /// Number of events.
        public var events: Int64
    }

    let database: Database

    /// A store over `database` (migrated with ``migrations``).
    public init(database: Database) {
        self.database = database
    }

    /// Stores `event` unless its idempotency key is taken; concurrent ingestion of one key stores it
    /// once (the unique key decides, and the loser reads the winner's row).
    public func ingest(_ event: Event, now: Int64) async throws -> IngestOutcome {
        do {
            return try await self.database.write { tx in
                if let existing = try await Self.event(forKey: event.idempotencyKey, in: tx) {
                    return existing.sameUsage(as: event) ? .duplicate(eventID: existing.eventID) : .conflict
                }
                try await tx.execute(
                    """
                    INSERT INTO usage_events (event_id, idempotency_key, developer_id, app_id, kind, quantity,
                        occurred_at_ms, ingested_at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        event.eventID, event.idempotencyKey, event.developerID, event.appID, event.kind,
                        event.quantity, event.occurredAtMilliseconds, now,
                    ])
                return .stored(eventID: event.eventID)
            }
        } catch StorageError.uniqueViolation {
            // Another transaction stored the key between our read and insert.
            let existing = try await self.database.read { tx in
                try await Self.event(forKey: event.idempotencyKey, in: tx)
            }
            guard let existing else { throw StorageError.conflict("usage event vanished after a unique violation") }
            return existing.sameUsage(as: event) ? .duplicate(eventID: existing.eventID) : .conflict
        }
    }

    /// The totals of `developerID` per kind, ordered by kind.
    public func totals(developerID: String) async throws -> [Total] {
        try await self.database.read { tx in
            try await tx.query(
                """
                SELECT kind, SUM(quantity) AS quantity, COUNT(*) AS events FROM usage_events
                WHERE developer_id = ? GROUP BY kind ORDER BY kind
                """, [developerID]
            ).map { row in
                Total(
                    kind: try row.decode(Int64.self, "kind"), quantity: try row.decode(Int64.self, "quantity"),
                    events: try row.decode(Int64.self, "events"))
            }
        }
    }

    private static func event(forKey key: String, in tx: Transaction) async throws -> Event? {
        guard
            let row = try await tx.queryFirst(
                """
                SELECT event_id, idempotency_key, developer_id, app_id, kind, quantity, occurred_at_ms
                FROM usage_events WHERE idempotency_key = ?
                """, [key])
        else { return nil }
        return Event(
            eventID: try row.decode(String.self, "event_id"),
            idempotencyKey: try row.decode(String.self, "idempotency_key"),
            developerID: try row.decode(String.self, "developer_id"), appID: try row.decode(String.self, "app_id"),
            kind: try row.decode(Int64.self, "kind"), quantity: try row.decode(Int64.self, "quantity"),
            occurredAtMilliseconds: try row.decode(Int64.self, "occurred_at_ms"))
    }
}
