public import SkyportStorage

/// Host management's store: the registered hosts of its data centre, their packages and liveness.
public struct HostStore: Sendable {
    /// One registered host.
    public struct Host: Sendable, Hashable {
        /// Stable id chosen by the host.
        public var hostID: String
        /// host:port of its stream host service.
        public var address: String
        /// Its data centre.
        public var datacentre: String
        /// Session slots.
        public var slots: Int64
        /// Normalised CPU units.
        public var cpuUnits: Int64
        /// Memory in MiB.
        public var memoryMiB: Int64
        /// GPU score.
        public var gpuScore: Int64
        /// First registration, Unix milliseconds.
        public var registeredAtMilliseconds: Int64
        /// Last registration or heartbeat, Unix milliseconds.
        public var lastSeenMilliseconds: Int64
        /// `up`, or `lost` after missing its heartbeats.
        public var state: String = "up"
        /// Installed packages as `app/version`.
        public var packages: [String] = []

        /// Whether the host holds the package of `appID` at `versionID`.
        public func holds(appID: String, versionID: String) -> Bool {
            self.packages.contains("\(appID)/\(versionID)")
        }
    }

    let database: Database

    /// A store over `database`.
    public init(database: Database) {
        self.database = database
    }

    /// Records `host` as up (its `registeredAt` is kept from the first registration) and returns the stored
    /// row.
    public func register(_ host: Host) async throws -> Host {
        try await self.database.write { tx in
            try await tx.execute(
                """
                INSERT INTO hosts (host_id, address, datacentre, slots, cpu_units, memory_mib, gpu_score,
                    registered_at_ms, last_seen_ms, state, last_heartbeat_ms, packages)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'up', ?, ?)
                ON CONFLICT (host_id) DO UPDATE SET address = excluded.address, datacentre = excluded.datacentre,
                    slots = excluded.slots, cpu_units = excluded.cpu_units, memory_mib = excluded.memory_mib,
                    gpu_score = excluded.gpu_score, last_seen_ms = excluded.last_seen_ms, state = 'up',
                    last_heartbeat_ms = excluded.last_heartbeat_ms, packages = excluded.packages
                """,
                [
                    host.hostID, host.address, host.datacentre, host.slots, host.cpuUnits, host.memoryMiB,
                    host.gpuScore, host.registeredAtMilliseconds, host.lastSeenMilliseconds, host.lastSeenMilliseconds,
                    host.packages.joined(separator: "\n"),
                ])
            let rows = try await tx.query("\(Self.select) WHERE host_id = ?", [host.hostID])
            guard let row = rows.first else { throw StorageError.notFound("host \(host.hostID) after registering it") }
            return try Self.host(row)
        }
    }

    /// One host, when registered.
    public func host(_ hostID: String) async throws -> Host? {
        try await self.database.query("\(Self.select) WHERE host_id = ?", [hostID]).first.map(Self.host)
    }

    /// Records a heartbeat: the host is up and seen now. False for a host that never registered.
    public func recordHeartbeat(hostID: String, at time: Int64) async throws -> Bool {
        try await self.database.execute(
            "UPDATE hosts SET last_seen_ms = ?, last_heartbeat_ms = ?, state = 'up' WHERE host_id = ?",
            [time, time, hostID]) == 1
    }

    /// Marks lost every host that is up and was last seen before `silentSince`; their ids.
    public func markLost(silentSince: Int64) async throws -> [String] {
        try await self.database.write { tx in
            let lost = try await tx.query(
                "SELECT host_id FROM hosts WHERE state = 'up' AND last_seen_ms < ?", [silentSince]
            ).map { try $0.decode(String.self, "host_id") }
            for hostID in lost {
                try await tx.execute(
                    "UPDATE hosts SET state = 'lost' WHERE host_id = ? AND state = 'up' AND last_seen_ms < ?",
                    [hostID, silentSince])
            }
            return lost
        }
    }

    /// The hosts, ordered by id; at most `limit`.
    public func all(limit: Int = 1000) async throws -> [Host] {
        try await self.database.query("\(Self.select) ORDER BY host_id LIMIT ?", [limit]).map(Self.host)
    }

    private static let select = """
        SELECT host_id, address, datacentre, slots, cpu_units, memory_mib, gpu_score, registered_at_ms, last_seen_ms,
            state, packages
        FROM hosts
        """

    private static func host(_ row: Row) throws -> Host {
        Host(
            hostID: try row.decode(String.self, "host_id"), address: try row.decode(String.self, "address"),
            datacentre: try row.decode(String.self, "datacentre"), slots: try row.decode(Int64.self, "slots"),
            cpuUnits: try row.decode(Int64.self, "cpu_units"), memoryMiB: try row.decode(Int64.self, "memory_mib"),
            gpuScore: try row.decode(Int64.self, "gpu_score"),
            registeredAtMilliseconds: try row.decode(Int64.self, "registered_at_ms"),
            lastSeenMilliseconds: try row.decode(Int64.self, "last_seen_ms"),
            state: try row.decode(String.self, "state"),
            packages: try row.decode(String.self, "packages").split(separator: "\n").map(String.init))
    }
}
