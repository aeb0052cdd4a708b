public import SkyportStorage

/// Users' saved application state, per (application, user), kept at the application's home data
/// centre and handed to the host on the user's next session, wherever it runs.
public struct SessionStateStore: Sendable {
    /// The most state an application may save for one user: 1 MiB.
    public static let maximumBytes = 1 << 20

    let database: Database

    /// A store over `database`.
    public init(database: Database) {
        self.database = database
    }

    /// Keeps `state` for (`appID`, `userID`) unless a later save is stored already (saves can arrive out
    /// of order from different data centres).
    public func save(appID: String, userID: String, state: [UInt8], sessionID: String, at time: Int64) async throws {
        try await self.database.execute(Self.saveStatement, [appID, userID, state, sessionID, time])
    }

    /// ``save(appID:userID:state:sessionID:at:)`` inside a caller's write transaction.
    static func save(
        appID: String, userID: String, state: [UInt8], sessionID: String, at time: Int64, in tx: Transaction
    ) async throws {
        try await tx.execute(Self.saveStatement, [appID, userID, state, sessionID, time])
    }

    /// Keeps the newer of the stored and the given state.
    private static let saveStatement = """
        INSERT INTO session_states (app_id, user_id, state, session_id, saved_at_ms) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (app_id, user_id) DO UPDATE SET state = excluded.state, session_id = excluded.session_id,
            saved_at_ms = excluded.saved_at_ms
        WHERE session_states.saved_at_ms <= excluded.saved_at_ms
        """

    /// The saved state of (`appID`, `userID`), empty when there is none.
    public func load(appID: String, userID: String) async throws -> [UInt8] {
        try await self.database.read { tx in try await Self.load(appID: appID, userID: userID, in: tx) }
    }

    /// ``load(appID:userID:)`` inside a caller's transaction.
    static func load(appID: String, userID: String, in tx: Transaction) async throws -> [UInt8] {
        try await tx.queryFirst(
            "SELECT state FROM session_states WHERE app_id = ? AND user_id = ?", [appID, userID]
        ).map { try $0.decode([UInt8].self, "state") } ?? []
    }
}
