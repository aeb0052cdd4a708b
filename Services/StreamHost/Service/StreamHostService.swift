public import SkyportProto
public import SkyportRPC
import SkyportService

/// `skyport.streamhost.v1.StreamHost` over a ``StreamHostStore``.
public struct StreamHostService: Skyport_Streamhost_V1_StreamHostProvider {
    let store: StreamHostStore
    let capacity: Capacity
    let advertiseAddress: String

    init(store: StreamHostStore, capacity: Capacity, advertiseAddress: String) {
        self.store = store
        self.capacity = capacity
        self.advertiseAddress = advertiseAddress
    }

    /// The host's identity, capacity and registration state.
    public func getStatus(
        _ request: Skyport_Streamhost_V1_GetStatusRequest, context: ServerContext
    ) async throws -> Skyport_Streamhost_V1_HostStatus {
        let identity = try await ServiceSupport.store { try await self.store.identity() }
        var status = Skyport_Streamhost_V1_HostStatus()
        status.hostId = identity.hostID
        status.datacentre = self.capacity.datacentre
        status.address = self.advertiseAddress
        status.slots = UInt32(self.capacity.slots)
        status.firstStartedAtUnixMs = identity.firstStartedAtMilliseconds
        status.startCount = UInt64(identity.startCount)
        status.registeredAtUnixMs = identity.registeredAtMilliseconds
        return status
    }

    /// Not implemented yet: provisioning arrives with the sessions issue.
    public func provision(
        _ request: Skyport_Streamhost_V1_ProvisionRequest, context: ServerContext
    ) async throws -> Skyport_Streamhost_V1_ProvisionResponse {
        throw ServiceSupport.unimplemented(Skyport_Streamhost_V1_StreamHostMethods.provision)
    }
    public func startInstance(_ request: Skyport_Streamhost_V1_StartInstanceRequest, context: ServerContext) async throws -> Skyport_Streamhost_V1_Instance {
        throw ServiceSupport.unimplemented(Skyport_Streamhost_V1_StreamHostMethods.startInstance)
    }

    public func stopInstance(_ request: Skyport_Streamhost_V1_StopInstanceRequest, context: ServerContext) async throws -> Skyport_Streamhost_V1_Instance {
        throw ServiceSupport.unimplemented(Skyport_Streamhost_V1_StreamHostMethods.stopInstance)
    }

    public func listInstances(_ request: Skyport_Streamhost_V1_ListInstancesRequest, context: ServerContext) async throws -> Skyport_Streamhost_V1_ListInstancesResponse {
        throw ServiceSupport.unimplemented(Skyport_Streamhost_V1_StreamHostMethods.listInstances)
    }

}
