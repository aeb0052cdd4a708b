public import SkyportStorage

/// What runs in this data centre: application instances on its hosts and the sessions placed on them.
///
/// Seats are reserved with one conditional update (`sessions < seats`), so concurrent placements never
/// put more sessions on an instance than it has seats, on any number of replicas.
public struct PlacementStore: Sendable {
    /// One application instance on a host.
    public struct Instance: Sendable, Hashable {
        /// `ins_…`, chosen by the stream host.
        public var instanceID: String
        /// The host it runs on.
        public var hostID: String
        /// Its application.
        public var appID: String
        /// Its application version.
        public var versionID: String
        /// Sessions it serves at once.
        public var seats: Int64
        /// Sessions on it now.
        public var sessions: Int64
        /// Normalised CPU units it takes.
        public var cpuUnits: Int64
        /// Memory it takes, MiB.
        public var memoryMiB: Int64
        /// `idle`, `active`, `draining`, `stopping`, `ended` or `lost`.
        public var state: String
        /// Unix milliseconds.
        public var startedAtMilliseconds: Int64
    }

    /// A session placed in this data centre.
    public struct Placement: Sendable, Hashable {
        /// The session.
        public var sessionID: String
        /// Its application.
        public var appID: String
        /// Its application version.
        public var versionID: String
        /// Its user.
        public var userID: String
        /// The developer billed for it.
        public var developerID: String
        /// Its group ("" for none).
        public var groupID: String
        /// Where the session was created (and the user's saved state lives).
        public var homeDatacentre: String
        /// The host it runs on.
        public var hostID: String
        /// The instance it runs on.
        public var instanceID: String
        /// `provisioned`, `connected`, `ended` or `lost`.
        public var state: String
        /// Unix milliseconds.
        public var placedAtMilliseconds: Int64
        /// When its client connected, Unix milliseconds.
        public var connectedAtMilliseconds: Int64?
    }

    /// What one host has in use.
    public struct HostLoad: Sendable, Hashable {
        /// Sessions on the host.
        public var sessions: Int64 = 0
        /// CPU units its live instances take.
        public var cpuUnits: Int64 = 0
        /// Memory its live instances take, MiB.
        public var memoryMiB: Int64 = 0
    }

    /// Instance states that hold resources on their host.
    static let liveInstanceStates = "('idle', 'active', 'draining', 'stopping')"
    /// Placement states of sessions that hold a seat.
    static let livePlacementStates = "('provisioned', 'connected')"

    /// Statements run on every capacity probe, instance end or session listing. Their plans stay on the
    /// indexes of migration 4 (live grouped placements, live placements by instance, placement time), so
    /// they read what is live or asked for, not every placement ever made; a test holds the plans.
    enum Queries {
        /// The groups with live sessions, at most `?`.
        static let activeGroups = """
            SELECT DISTINCT group_id FROM placements WHERE group_id <> '' AND state IN \(livePlacementStates)
            ORDER BY group_id LIMIT ?
            """
        /// The live placements of instance `?`.
        static let livePlacementsOfInstance =
            "SELECT \(placementColumns) FROM placements WHERE instance_id = ? AND state IN \(livePlacementStates)"
        /// The newest `?` placements, with their end.
        static let recentPlacements = """
            SELECT \(placementColumns), ended_at_ms, end_reason FROM placements
            ORDER BY placed_at_ms DESC, session_id LIMIT ?
            """
    }

    let database: Database

    /// A store over `database`.
    public init(database: Database) {
        self.database = database
    }

    // MARK: Seats

    /// A seat taken on a running instance, with the address of its host's control port.
    public struct Seat: Sendable, Hashable {
        /// The instance, with the seat counted.
        public var instance: Instance
        /// Where its stream host listens (`host:port`).
        public var hostAddress: String
    }

    /// Takes a seat on a running instance of `appID` at `versionID` on a host that is up: a warm idle
    /// instance first, then a shared instance with a free seat; instances on `preferredHosts` (where the
    /// session's group is) before others; and records `session`'s placement on it (its host and instance
    /// filled in) in the same transaction, ahead of the provisioning, so a heartbeat taken meanwhile sees
    /// why the seat is taken. `nil` when no instance has a free seat.
    ///
    /// One write transaction reads the candidates and takes the seat with a conditional update (which is
    /// what decides: on PostgreSQL another replica may take the last seat between the read and the update,
    /// and then the next candidate is tried).
    public func reserveSeat(
        for session: Placement, preferredHosts: [String], excluding: Set<String> = []
    ) async throws -> Seat? {
        try await self.database.write { tx in
            try await Self.reserveSeat(for: session, preferredHosts: preferredHosts, excluding: excluding, in: tx)
        }
    }

    /// ``reserveSeat(for:preferredHosts:excluding:)`` inside a caller's write transaction.
    static func reserveSeat(
        for session: Placement, preferredHosts: [String], excluding: Set<String>, in tx: Transaction
    ) async throws -> Seat? {
        // A few candidates are enough unless the group's hosts must be found among them (each row read is
        // converted, and this runs on every start).
        let candidateLimit = excluding.count + (preferredHosts.isEmpty ? 4 : 32)
        for _ in 0..<4 {
            let candidates = try await tx.query(
                """
                SELECT \(Self.instanceColumns), h.address FROM instances i JOIN hosts h ON h.host_id = i.host_id
                WHERE i.app_id = ? AND i.version_id = ? AND i.state IN ('idle', 'active') AND i.sessions < i.seats
                    AND h.state = 'up'
                ORDER BY CASE WHEN i.state = 'idle' THEN 0 ELSE 1 END, i.started_at_ms, i.instance_id
                LIMIT ?
                """, [session.appID, session.versionID, Int64(candidateLimit)]
            ).map { Seat(instance: try Self.instance($0), hostAddress: try $0.decode(String.self, "address")) }
                .filter { !excluding.contains($0.instance.instanceID) }
            guard !candidates.isEmpty else { return nil }
            let ordered =
                candidates.filter { preferredHosts.contains($0.instance.hostID) }
                + candidates.filter { !preferredHosts.contains($0.instance.hostID) }
            for candidate in ordered {
                let changed = try await tx.execute(
                    """
                    UPDATE instances SET sessions = sessions + 1, state = 'active'
                    WHERE instance_id = ? AND state IN ('idle', 'active') AND sessions < seats
                    """, [candidate.instance.instanceID])
                if changed == 1 {
                    var taken = candidate
                    taken.instance.sessions += 1
                    taken.instance.state = "active"
                    var placement = session
                    placement.hostID = taken.instance.hostID
                    placement.instanceID = taken.instance.instanceID
                    try await Self.insert(placement, in: tx)
                    return taken
                }
            }
        }
        return nil
    }

    /// Gives back a seat taken by ``reserveSeat(for:preferredHosts:excluding:)`` whose provisioning
    /// failed, with the placement of `sessionID` recorded on it. The seat goes back only with the
    /// placement: if something ended that placement meanwhile (reconciliation), it gave the seat back.
    public func releaseSeat(_ seat: Seat, of sessionID: String) async throws {
        try await self.database.write { tx in
            let removed = try await tx.execute(
                "DELETE FROM placements WHERE session_id = ? AND instance_id = ? AND state = 'provisioned'",
                [sessionID, seat.instance.instanceID])
            if removed == 1 { try await Self.releaseSeat(instanceID: seat.instance.instanceID, in: tx) }
        }
    }

    static func releaseSeat(instanceID: String, in tx: Transaction) async throws {
        try await tx.execute(
            """
            UPDATE instances SET sessions = sessions - 1,
                state = CASE WHEN state = 'active' AND sessions = 1 THEN 'idle' ELSE state END
            WHERE instance_id = ? AND sessions > 0
            """, [instanceID])
    }

    // MARK: Recording what hosts did

    /// Records a session provisioned without a reserved seat (the stream host launched `instance`, or
    /// attached the session to one of its own): the instance is added, or its session count raised when
    /// it is known, and the placement inserted. (A reserved seat's placement was recorded with it.)
    public func recordLaunched(_ placement: Placement, on instance: Instance) async throws {
        try await self.database.write { tx in
            let raised = try await tx.execute(
                """
                UPDATE instances SET sessions = sessions + 1,
                    state = CASE WHEN state = 'idle' THEN 'active' ELSE state END
                WHERE instance_id = ? AND state IN \(Self.liveInstanceStates)
                """, [instance.instanceID])
            if raised == 0 { try await Self.upsertInstance(instance, in: tx) }
            try await Self.insert(placement, in: tx)
        }
    }

    /// Inserts `placement` (state `provisioned`) inside `tx`.
    static func insert(_ placement: Placement, in tx: Transaction) async throws {
        try await tx.execute(
            """
            INSERT INTO placements (session_id, app_id, version_id, user_id, developer_id, group_id, home_datacentre,
                host_id, instance_id, state, placed_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'provisioned', ?)
            """,
            [
                placement.sessionID, placement.appID, placement.versionID, placement.userID, placement.developerID,
                placement.groupID, placement.homeDatacentre, placement.hostID, placement.instanceID,
                placement.placedAtMilliseconds,
            ])
    }

    /// Inserts `instance`, or refreshes its seats, sessions and state when it is known.
    static func upsertInstance(_ instance: Instance, in tx: Transaction) async throws {
        try await tx.execute(
            """
            INSERT INTO instances (instance_id, host_id, app_id, version_id, seats, sessions, cpu_units, memory_mib,
                state, started_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (instance_id) DO UPDATE SET seats = excluded.seats, sessions = excluded.sessions,
                state = excluded.state
            """,
            [
                instance.instanceID, instance.hostID, instance.appID, instance.versionID, instance.seats,
                instance.sessions, instance.cpuUnits, instance.memoryMiB, instance.state,
                instance.startedAtMilliseconds,
            ])
    }

    /// Records a warm instance a host started for the buffer pool (left as it is when its start event
    /// arrived first and a placement may already have taken a seat on it).
    public func recordStarted(_ instance: Instance) async throws {
        try await self.database.write { tx in try await Self.insertIfAbsent(instance, in: tx) }
    }

    /// Inserts `instance` unless its id is known (then it is left as it is) inside `tx`.
    static func insertIfAbsent(_ instance: Instance, in tx: Transaction) async throws {
        try await tx.execute(
            """
            INSERT INTO instances (instance_id, host_id, app_id, version_id, seats, sessions, cpu_units, memory_mib,
                state, started_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (instance_id) DO NOTHING
            """,
            [
                instance.instanceID, instance.hostID, instance.appID, instance.versionID, instance.seats,
                instance.sessions, instance.cpuUnits, instance.memoryMiB, instance.state,
                instance.startedAtMilliseconds,
            ])
    }

    /// Marks the client of `sessionID` (on `hostID`) connected; false when it is not a live placement there.
    public static func markConnected(sessionID: String, hostID: String, at time: Int64, in tx: Transaction) async throws
        -> Bool
    {
        try await tx.execute(
            """
            UPDATE placements SET state = 'connected', connected_at_ms = ?
            WHERE session_id = ? AND host_id = ? AND state = 'provisioned'
            """, [time, sessionID, hostID]) == 1
    }

    /// Ends a live placement (on `hostID`, when given) and frees its seat; the placement as it was, `nil`
    /// when it had ended already or runs elsewhere.
    static func endPlacement(
        sessionID: String, hostID: String? = nil, at time: Int64, state: String, reason: String, in tx: Transaction
    ) async throws -> Placement? {
        guard
            let row = try await tx.queryFirst(
                "SELECT \(Self.placementColumns) FROM placements WHERE session_id = ? AND state IN \(Self.livePlacementStates)",
                [sessionID])
        else { return nil }
        if let hostID, try row.decode(String.self, "host_id") != hostID { return nil }
        let placement = try Self.placement(row)
        let changed = try await tx.execute(
            """
            UPDATE placements SET state = ?, ended_at_ms = ?, end_reason = ?
            WHERE session_id = ? AND state IN \(Self.livePlacementStates)
            """, [state, time, String(reason.prefix(200)), sessionID])
        guard changed == 1 else { return nil }
        try await Self.releaseSeat(instanceID: placement.instanceID, in: tx)
        return placement
    }

    /// Ends a live instance (on `hostID`, when given) and every live placement on it; the instance as it
    /// was (`nil` when unknown, ended already or elsewhere) and the placements ended.
    static func endInstance(
        instanceID: String, hostID: String? = nil, at time: Int64, state: String, reason: String, in tx: Transaction
    ) async throws -> (Instance, [Placement])? {
        guard
            let row = try await tx.queryFirst(
                "SELECT \(Self.instanceColumns) FROM instances i WHERE instance_id = ? AND state IN \(Self.liveInstanceStates)",
                [instanceID])
        else { return nil }
        let instance = try Self.instance(row)
        if let hostID, instance.hostID != hostID { return nil }
        // The state check makes a concurrent end (read committed on PostgreSQL) a no-op, not a revival.
        guard
            try await tx.execute(
                """
                UPDATE instances SET state = ?, sessions = 0, ended_at_ms = ?, end_reason = ?
                WHERE instance_id = ? AND state IN \(Self.liveInstanceStates)
                """, [state, time, String(reason.prefix(200)), instanceID]) == 1
        else { return nil }
        var ended: [Placement] = []
        for placementRow in try await tx.query(Queries.livePlacementsOfInstance, [instanceID]) {
            let placement = try Self.placement(placementRow)
            try await tx.execute(
                "UPDATE placements SET state = ?, ended_at_ms = ?, end_reason = ? WHERE session_id = ?",
                [state == "lost" ? "lost" : "ended", time, String(reason.prefix(200)), placement.sessionID])
            ended.append(placement)
        }
        return (instance, ended)
    }

    /// Marks instances `draining` (no new sessions); they end when their host reports them ended.
    public func markDraining(_ instanceIDs: [String]) async throws {
        for instanceID in instanceIDs {
            try await self.database.execute(
                "UPDATE instances SET state = 'draining' WHERE instance_id = ? AND state IN ('idle', 'active')",
                [instanceID])
        }
    }

    // MARK: Reading

    /// What each host that is up has in use, by host id.
    public func hostLoads() async throws -> [String: HostLoad] {
        var loads: [String: HostLoad] = [:]
        for row in try await self.database.query(
            """
            SELECT host_id, CAST(SUM(sessions) AS BIGINT) AS sessions, CAST(SUM(cpu_units) AS BIGINT) AS cpu,
                CAST(SUM(memory_mib) AS BIGINT) AS memory
            FROM instances WHERE state IN \(Self.liveInstanceStates) GROUP BY host_id
            """)
        {
            loads[try row.decode(String.self, "host_id")] = HostLoad(
                sessions: try row.decode(Int64.self, "sessions"), cpuUnits: try row.decode(Int64.self, "cpu"),
                memoryMiB: try row.decode(Int64.self, "memory"))
        }
        return loads
    }

    /// Whether some host that is up has a free session slot (one query, for the check before a claim).
    public func someHostHasAFreeSlot() async throws -> Bool {
        try await !self.database.query(
            """
            SELECT 1 AS free FROM hosts h
            WHERE h.state = 'up' AND h.slots > COALESCE(
                (SELECT SUM(i.sessions) FROM instances i WHERE i.host_id = h.host_id AND i.state IN \(Self.liveInstanceStates)),
                0)
            LIMIT 1
            """
        ).isEmpty
    }

    /// Hosts with live sessions of `groupID`, most sessions first.
    public func hosts(ofGroup groupID: String) async throws -> [String] {
        try await self.database.query(
            """
            SELECT host_id, COUNT(*) AS n FROM placements WHERE group_id = ? AND state IN \(Self.livePlacementStates)
            GROUP BY host_id ORDER BY n DESC, host_id
            """, [groupID]
        ).map { try $0.decode(String.self, "host_id") }
    }

    /// Groups with live sessions here, at most `limit`.
    public func activeGroups(limit: Int = 1000) async throws -> [String] {
        try await self.database.query(Queries.activeGroups, [limit]).map { try $0.decode(String.self, "group_id") }
    }

    /// Live instances, optionally of one host.
    public func liveInstances(hostID: String? = nil) async throws -> [Instance] {
        if let hostID {
            return try await self.database.query(
                "SELECT \(Self.instanceColumns) FROM instances i WHERE host_id = ? AND state IN \(Self.liveInstanceStates)",
                [hostID]
            ).map(Self.instance)
        }
        return try await self.database.query(
            "SELECT \(Self.instanceColumns) FROM instances i WHERE state IN \(Self.liveInstanceStates) ORDER BY started_at_ms"
        ).map(Self.instance)
    }

    /// The placements of `sessionIDs` (ended ones too) by session id, read in one statement (a host's
    /// report carries at most 500 events); an unknown id is left out. No ids, no read.
    public func placements(sessionIDs: [String]) async throws -> [String: Placement] {
        let unique = Array(Set(sessionIDs))
        guard !unique.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: unique.count).joined(separator: ", ")
        let rows = try await self.database.query(
            "SELECT \(Self.placementColumns) FROM placements WHERE session_id IN (\(marks))", unique)
        return try Dictionary(
            uniqueKeysWithValues: rows.map { row in
                let placement = try Self.placement(row)
                return (placement.sessionID, placement)
            })
    }

    /// Live placements of one host, by session id.
    public func livePlacements(hostID: String) async throws -> [Placement] {
        try await self.database.query(
            "SELECT \(Self.placementColumns) FROM placements WHERE host_id = ? AND state IN \(Self.livePlacementStates)",
            [hostID]
        ).map(Self.placement)
    }

    /// The newest placements, at most `limit`, with their end (state, end time, reason).
    public func recentPlacements(limit: Int = 1000) async throws -> [(Placement, endedAt: Int64?, reason: String)] {
        try await self.database.query(Queries.recentPlacements, [limit]).map { row in
            (
                try Self.placement(row), try row.decode(Int64?.self, "ended_at_ms"),
                try row.decode(String.self, "end_reason")
            )
        }
    }

    static let instanceColumns = """
        i.instance_id, i.host_id, i.app_id, i.version_id, i.seats, i.sessions, i.cpu_units, i.memory_mib, i.state,
        i.started_at_ms
        """

    static func instance(_ row: Row) throws -> Instance {
        Instance(
            instanceID: try row.decode(String.self, "instance_id"), hostID: try row.decode(String.self, "host_id"),
            appID: try row.decode(String.self, "app_id"), versionID: try row.decode(String.self, "version_id"),
            seats: try row.decode(Int64.self, "seats"), sessions: try row.decode(Int64.self, "sessions"),
            cpuUnits: try row.decode(Int64.self, "cpu_units"), memoryMiB: try row.decode(Int64.self, "memory_mib"),
            state: try row.decode(String.self, "state"),
            startedAtMilliseconds: try row.decode(Int64.self, "started_at_ms"))
    }

    static let placementColumns = """
        session_id, app_id, version_id, user_id, developer_id, group_id, home_datacentre, host_id, instance_id, state,
        placed_at_ms, connected_at_ms
        """

    static func placement(_ row: Row) throws -> Placement {
        Placement(
            sessionID: try row.decode(String.self, "session_id"), appID: try row.decode(String.self, "app_id"),
            versionID: try row.decode(String.self, "version_id"), userID: try row.decode(String.self, "user_id"),
            developerID: try row.decode(String.self, "developer_id"), groupID: try row.decode(String.self, "group_id"),
            homeDatacentre: try row.decode(String.self, "home_datacentre"),
            hostID: try row.decode(String.self, "host_id"),
            instanceID: try row.decode(String.self, "instance_id"), state: try row.decode(String.self, "state"),
            placedAtMilliseconds: try row.decode(Int64.self, "placed_at_ms"),
            connectedAtMilliseconds: try row.decode(Int64?.self, "connected_at_ms"))
    }
}
