public import SkyportStorage

/// Host management's sessions: created with the hash of their one-time token, claimed at most once.
public struct SessionStore: Sendable {
    /// A session as created.
    public struct Session: Sendable, Hashable {
        /// `ses_…`.
        public var sessionID: String
        /// The application.
        public var appID: String
        /// The user.
        public var userID: String
        /// The developer who asked for it.
        public var developerID: String
        /// Sessions of one group go together ("" for none).
        public var groupID: String
        /// As the developer's backend saw it.
        public var clientAddress: String
        /// SHA-256 of the token text.
        public var tokenHash: [UInt8]
        /// Unix milliseconds.
        public var createdAtMilliseconds: Int64
        /// When the token stops being redeemable, Unix milliseconds.
        public var expiresAtMilliseconds: Int64
        /// The application version the session runs.
        public var versionID: String = ""
        /// What host management needs to run it: a serialized `skyport.hostmgr.v1.AppLaunch`.
        public var appLaunch: [UInt8] = []
    }

    /// How a claim went.
    public enum ClaimOutcome: Sendable, Hashable {
        /// This claim won: the session is now claimed.
        case claimed(Session, atMilliseconds: Int64)
        /// No session has this id and token.
        case notFound
        /// The session was claimed before (by this token's first redemption).
        case alreadyClaimed
        /// The token expired before anyone claimed it.
        case expired
    }

    let database: Database

    /// A store over `database`.
    public init(database: Database) {
        self.database = database
    }

    /// Stores a new session in state `created`.
    public func create(_ session: Session) async throws {
        try await self.database.execute(
            """
            INSERT INTO sessions (session_id, app_id, user_id, developer_id, group_id, client_address, token_hash,
                state, created_at_ms, expires_at_ms, version_id, app_launch)
            VALUES (?, ?, ?, ?, ?, ?, ?, 'created', ?, ?, ?, ?)
            """,
            [
                session.sessionID, session.appID, session.userID, session.developerID, session.groupID,
                session.clientAddress, session.tokenHash, session.createdAtMilliseconds, session.expiresAtMilliseconds,
                session.versionID, session.appLaunch,
            ])
    }

    /// Claims the session once: one conditional update decides, so of any number of concurrent claims
    /// (on any replica) exactly one wins. `graceMilliseconds` extends the expiry by the clock skew the
    /// redemption nodes allow.
    public func claim(
        sessionID: String, tokenHash: [UInt8], by claimant: String, now: Int64, graceMilliseconds: Int64
    ) async throws -> ClaimOutcome {
        try await self.database.write { tx in
            try await Self.claim(
                sessionID: sessionID, tokenHash: tokenHash, by: claimant, now: now,
                graceMilliseconds: graceMilliseconds,
                in: tx)
        }
    }

    /// ``claim(sessionID:tokenHash:by:now:graceMilliseconds:)`` inside a caller's write transaction.
    static func claim(
        sessionID: String, tokenHash: [UInt8], by claimant: String, now: Int64, graceMilliseconds: Int64,
        in tx: Transaction
    ) async throws -> ClaimOutcome {
        if let claimed = try await tx.queryFirst(
            """
            UPDATE sessions SET state = 'claimed', claimed_at_ms = ?, claimed_by = ?
            WHERE session_id = ? AND token_hash = ? AND state = 'created' AND expires_at_ms >= ?
            RETURNING session_id, app_id, user_id, developer_id, group_id, client_address, token_hash,
                created_at_ms, expires_at_ms, state, version_id, app_launch
            """, [now, claimant, sessionID, tokenHash, now - graceMilliseconds])
        {
            return .claimed(try Self.session(claimed), atMilliseconds: now)
        }
        // Not claimed now: say why.
        guard
            let row = try await tx.queryFirst(
                "SELECT state FROM sessions WHERE session_id = ? AND token_hash = ?", [sessionID, tokenHash])
        else { return .notFound }
        return try row.decode(String.self, "state") == "claimed" ? .alreadyClaimed : .expired
    }

    /// Gives a claim back (the session becomes redeemable again) when `claimant` holds it; false otherwise.
    public func releaseClaim(sessionID: String, tokenHash: [UInt8], by claimant: String) async throws -> Bool {
        try await self.database.execute(
            """
            UPDATE sessions SET state = 'created', claimed_at_ms = NULL, claimed_by = NULL
            WHERE session_id = ? AND token_hash = ? AND state = 'claimed' AND claimed_by = ?
            """, [sessionID, tokenHash, claimant]) == 1
    }

    /// Deletes up to `limit` sessions whose token expired before `expiredBefore` (redeemed or not: an
    /// expired token is refused before it reaches the store, and the claim checks the expiry too);
    /// returns how many it deleted.
    public func purgeExpired(before expiredBefore: Int64, limit: Int) async throws -> Int {
        // Every state is named so the search uses `sessions_by_state (state, expires_at_ms)`: a new state
        // must be added here.
        try await self.database.execute(
            """
            DELETE FROM sessions WHERE session_id IN (
                SELECT session_id FROM sessions WHERE state IN ('created', 'claimed') AND expires_at_ms < ? LIMIT ?)
            """, [expiredBefore, Int64(limit)])
    }

    private static func session(_ row: Row) throws -> Session {
        Session(
            sessionID: try row.decode(String.self, "session_id"), appID: try row.decode(String.self, "app_id"),
            userID: try row.decode(String.self, "user_id"), developerID: try row.decode(String.self, "developer_id"),
            groupID: try row.decode(String.self, "group_id"),
            clientAddress: try row.decode(String.self, "client_address"),
            tokenHash: try row.decode([UInt8].self, "token_hash"),
            createdAtMilliseconds: try row.decode(Int64.self, "created_at_ms"),
            expiresAtMilliseconds: try row.decode(Int64.self, "expires_at_ms"),
            versionID: try row.decode(String.self, "version_id"),
            appLaunch: try row.decode([UInt8]?.self, "app_launch") ?? [])
    }
}
