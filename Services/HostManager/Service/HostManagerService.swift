public import SkyportProto
public import SkyportRPC
import SkyportService

/// `skyport.hostmgr.v1.HostManager` over a ``HostStore``, for one data centre.
public struct HostManagerService: Skyport_Hostmgr_V1_HostManagerProvider {
    let store: HostStore
    let datacentre: String

    /// A service over `store` owning `datacentre`.
    public init(store: HostStore, datacentre: String) {
        self.store = store
        self.datacentre = datacentre
    }

    /// Records (or refreshes) a stream host; FAILED_PRECONDITION when it belongs to another data centre.
    public func registerHost(
        _ request: Skyport_Hostmgr_V1_RegisterHostRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_Host {
        try ServiceSupport.requireName(request.hostId, field: "host_id")
        try ServiceSupport.requireAddress(request.address, field: "address")
        guard request.datacentre == self.datacentre else {
            throw RPCError(
                code: .failedPrecondition,
                message: "host \(request.hostId) is in data centre '\(request.datacentre)'; this host management owns "
                    + "'\(self.datacentre)'")
        }
        guard request.slots >= 1 else { throw RPCError(code: .invalidArgument, message: "slots must be at least 1") }
        guard request.memoryMib <= UInt64(Int64.max) else {
            throw RPCError(code: .invalidArgument, message: "memory_mib is out of range")
        }
        let now = ServiceSupport.nowUnixMilliseconds()
        let host = try await ServiceSupport.store {
            try await self.store.register(
                HostStore.Host(
                    hostID: request.hostId, address: request.address, datacentre: request.datacentre,
                    slots: Int64(request.slots), cpuUnits: Int64(request.cpuUnits), memoryMiB: Int64(request.memoryMib),
                    gpuScore: Int64(request.gpuScore), registeredAtMilliseconds: now, lastSeenMilliseconds: now))
        }
        return Self.message(host)
    }

    /// The registered hosts of this data centre.
    public func listHosts(
        _ request: Skyport_Hostmgr_V1_ListHostsRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ListHostsResponse {
        var response = Skyport_Hostmgr_V1_ListHostsResponse()
        response.hosts = try await ServiceSupport.store { try await self.store.all() }.map(Self.message)
        response.datacentre = self.datacentre
        return response
    }

    /// Not implemented yet: sessions and tokens arrive with the sessions issue.
    public func createSession(
        _ request: Skyport_Hostmgr_V1_CreateSessionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_CreateSessionResponse {
        throw ServiceSupport.unimplemented(Skyport_Hostmgr_V1_HostManagerMethods.createSession)
    }

    static func message(_ host: HostStore.Host) -> Skyport_Hostmgr_V1_Host {
        var message = Skyport_Hostmgr_V1_Host()
        message.hostId = host.hostID
        message.address = host.address
        message.datacentre = host.datacentre
        message.slots = UInt32(clamping: host.slots)
        message.cpuUnits = UInt32(clamping: host.cpuUnits)
        message.memoryMib = UInt64(host.memoryMiB)
        message.gpuScore = UInt32(clamping: host.gpuScore)
        message.registeredAtUnixMs = host.registeredAtMilliseconds
        message.lastSeenUnixMs = host.lastSeenMilliseconds
        return message
    }
}
