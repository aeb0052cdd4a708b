public import SkyportStorage
import SkyportProto
import SkyportService

/// The stream host's store: its identity (one row), kept across restarts, and the outbox of events not
/// yet accepted by host management.
public struct StreamHostStore: Sendable {
    /// Released migrations; never edit one, add the next.
    public static let migrations = [
        Migration(
            version: 1, name: "host identity",
            sql: [
                """
                CREATE TABLE host_identity (
                    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
                    host_id TEXT NOT NULL,
                    first_started_at_ms BIGINT NOT NULL,
                    start_count BIGINT NOT NULL,
                    registered_at_ms BIGINT NOT NULL
                )
                """
            ]),
        // Events wait here until host management accepted them; the generated sequence orders them and
        // names them (`<host_id>-<sequence>`), and is never reused, even after rows are deleted.
        Migration(version: 2, name: "event outbox") { dialect in
            [
                """
                CREATE TABLE event_outbox (
                    event_seq \(dialect.autoIncrementPrimaryKey),
                    kind BIGINT NOT NULL,
                    instance_id TEXT NOT NULL,
                    session_id TEXT NOT NULL,
                    app_id TEXT NOT NULL,
                    version_id TEXT NOT NULL,
                    at_ms BIGINT NOT NULL,
                    saved_state \(dialect.bytesType) NOT NULL,
                    state_saved BOOLEAN NOT NULL,
                    reason TEXT NOT NULL
                )
                """
            ]
        },
    ]

    /// The host's identity and history.
    public struct Identity: Sendable, Hashable {
        /// `host-<hex>`, created on the first start.
        public var hostID: String
        /// Unix milliseconds of the first start.
        public var firstStartedAtMilliseconds: Int64
        /// Starts so far.
        public var startCount: Int64
        /// When host management last accepted the registration; 0 before that.
        public var registeredAtMilliseconds: Int64
    }

    let database: Database

    /// A store over `database`.
    public init(database: Database) {
        self.database = database
    }

    /// Counts a start, creating the identity on the first one.
    @discardableResult
    public func recordStart(now: Int64) async throws -> Identity {
        try await self.database.write { tx in
            let updated = try await tx.execute(
                "UPDATE host_identity SET start_count = start_count + 1 WHERE singleton = 1")
            if updated == 0 {
                let hostID = ServiceSupport.newIdentifier(prefix: "host").replacingOccurrences(of: "_", with: "-")
                try await tx.execute(
                    """
                    INSERT INTO host_identity (singleton, host_id, first_started_at_ms, start_count, registered_at_ms)
                    VALUES (1, ?, ?, 1, 0)
                    """, [hostID, now])
            }
            return try await Self.identity(in: tx)
        }
    }

    /// Records that host management accepted the registration at `time`.
    public func recordRegistration(at time: Int64) async throws {
        try await self.database.execute("UPDATE host_identity SET registered_at_ms = ? WHERE singleton = 1", [time])
    }

    /// The identity; `StorageError.notFound` before the first start.
    public func identity() async throws -> Identity {
        try await self.database.read { tx in try await Self.identity(in: tx) }
    }

    /// Appends `events` to the outbox, in order, in one transaction (their `event_id` is ignored: the
    /// sequence names them).
    func appendEvents(_ events: [Skyport_Hostmgr_V1_HostEvent]) async throws {
        try await self.database.write { tx in
            for event in events {
                try await tx.execute(
                    """
                    INSERT INTO event_outbox
                        (kind, instance_id, session_id, app_id, version_id, at_ms, saved_state, state_saved, reason)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        Int64(event.kind.rawValue), event.instanceId, event.sessionId, event.appId, event.versionId,
                        event.atUnixMs, event.savedState, event.stateSaved, event.reason,
                    ])
            }
        }
    }

    /// The oldest `limit` events of the outbox, oldest first, with their sequence numbers.
    func pendingEvents(limit: Int) async throws -> [(sequence: Int64, event: Skyport_Hostmgr_V1_HostEvent)] {
        let rows = try await self.database.query(
            """
            SELECT event_seq, kind, instance_id, session_id, app_id, version_id, at_ms, saved_state, state_saved,
                reason
            FROM event_outbox ORDER BY event_seq LIMIT ?
            """, [limit])
        return try rows.map { row in
            var event = Skyport_Hostmgr_V1_HostEvent()
            event.kind = .init(rawValue: Int32(truncatingIfNeeded: try row.decode(Int64.self, "kind")))
            event.instanceId = try row.decode(String.self, "instance_id")
            event.sessionId = try row.decode(String.self, "session_id")
            event.appId = try row.decode(String.self, "app_id")
            event.versionId = try row.decode(String.self, "version_id")
            event.atUnixMs = try row.decode(Int64.self, "at_ms")
            event.savedState = try row.decode([UInt8].self, "saved_state")
            event.stateSaved = try row.decode(Bool.self, "state_saved")
            event.reason = try row.decode(String.self, "reason")
            return (try row.decode(Int64.self, "event_seq"), event)
        }
    }

    /// Removes the events up to `sequence` (those host management accepted).
    func deleteEvents(through sequence: Int64) async throws {
        try await self.database.execute("DELETE FROM event_outbox WHERE event_seq <= ?", [sequence])
    }

    private static func identity(in tx: Transaction) async throws -> Identity {
        guard
            let row = try await tx.queryFirst(
                """
                SELECT host_id, first_started_at_ms, start_count, registered_at_ms FROM host_identity
                WHERE singleton = 1
                """
            )
        else { throw StorageError.notFound("host identity (the host has not started)") }
        return Identity(
            hostID: try row.decode(String.self, "host_id"),
            firstStartedAtMilliseconds: try row.decode(Int64.self, "first_started_at_ms"),
            startCount: try row.decode(Int64.self, "start_count"),
            registeredAtMilliseconds: try row.decode(Int64.self, "registered_at_ms"))
    }
}
