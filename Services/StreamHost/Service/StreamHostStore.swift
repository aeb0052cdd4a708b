public import SkyportStorage
import SkyportService

/// The stream host's store: its identity (one row), kept across restarts.
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
            ])
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
