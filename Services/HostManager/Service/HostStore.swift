public import SkyportStorage

/// Host management's store: the registered hosts of its data centre.
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
        /// Last registration, Unix milliseconds.
        public var lastSeenMilliseconds: Int64
    }

    let database: Database

    /// A store over `database`.
    public init(database: Database) {
        self.database = database
    }

    /// Records `host` (its `registeredAt` is kept from the first registration) and returns the stored row.
    public func register(_ host: Host) async throws -> Host {
        try await self.database.write { tx in
            try await tx.execute(
                """
                INSERT INTO hosts (host_id, address, datacentre, slots, cpu_units, memory_mib, gpu_score,
                    registered_at_ms, last_seen_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (host_id) DO UPDATE SET address = excluded.address, datacentre = excluded.datacentre,
                    slots = excluded.slots, cpu_units = excluded.cpu_units, memory_mib = excluded.memory_mib,
                    gpu_score = excluded.gpu_score, last_seen_ms = excluded.last_seen_ms
                """,
                [
                    host.hostID, host.address, host.datacentre, host.slots, host.cpuUnits, host.memoryMiB,
                    host.gpuScore,
                    host.registeredAtMilliseconds, host.lastSeenMilliseconds,
                ])
            let rows = try await tx.query("\(Self.select) WHERE host_id = ?", [host.hostID])
            guard let row = rows.first else { throw StorageError.notFound("host \(host.hostID) after registering it") }
            return try Self.host(row)
        }
    }

    /// The hosts, ordered by id; at most `limit`.
    public func all(limit: Int = 1000) async throws -> [Host] {
        try await self.database.query("\(Self.select) ORDER BY host_id LIMIT ?", [limit]).map(Self.host)
    }

    private static let select = """
        SELECT host_id, address, datacentre, slots, cpu_units, memory_mib, gpu_score, registered_at_ms, last_seen_ms
        FROM hosts
        """

    private static func host(_ row: Row) throws -> Host {
        Host(
            hostID: try row.decode(String.self, "host_id"), address: try row.decode(String.self, "address"),
            datacentre: try row.decode(String.self, "datacentre"), slots: try row.decode(Int64.self, "slots"),
            cpuUnits: try row.decode(Int64.self, "cpu_units"), memoryMiB: try row.decode(Int64.self, "memory_mib"),
            gpuScore: try row.decode(Int64.self, "gpu_score"),
            registeredAtMilliseconds: try row.decode(Int64.self, "registered_at_ms"),
            lastSeenMilliseconds: try row.decode(Int64.self, "last_seen_ms"))
    }
}
