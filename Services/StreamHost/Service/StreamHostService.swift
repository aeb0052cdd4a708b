public import SkyportProto
public import SkyportRPC
import SkyportService

/// `skyport.streamhost.v1.StreamHost`: status from the ``StreamHostStore``, instances and sessions from
/// the ``SessionRuntime``.
public struct StreamHostService: Skyport_Streamhost_V1_StreamHostProvider {
    let store: StreamHostStore
    let capacity: Capacity
    let advertiseAddress: String
    let runtime: SessionRuntime
    let clientAddress: @Sendable () -> String

    init(
        store: StreamHostStore, capacity: Capacity, advertiseAddress: String, runtime: SessionRuntime,
        clientAddress: @escaping @Sendable () -> String
    ) {
        self.store = store
        self.capacity = capacity
        self.advertiseAddress = advertiseAddress
        self.runtime = runtime
        self.clientAddress = clientAddress
    }

    /// The host's identity, capacity, free resources and registration state.
    public func getStatus(
        _ request: Skyport_Streamhost_V1_GetStatusRequest, context: ServerContext
    ) async throws -> Skyport_Streamhost_V1_HostStatus {
        let identity = try await ServiceSupport.store { try await self.store.identity() }
        let free = await self.runtime.free
        var status = Skyport_Streamhost_V1_HostStatus()
        status.hostId = identity.hostID
        status.datacentre = self.capacity.datacentre
        status.address = self.advertiseAddress
        status.slots = UInt32(self.capacity.slots)
        status.firstStartedAtUnixMs = identity.firstStartedAtMilliseconds
        status.startCount = UInt64(identity.startCount)
        status.registeredAtUnixMs = identity.registeredAtMilliseconds
        status.clientAddress = self.clientAddress()
        status.freeSlots = UInt32(max(0, free.slots))
        status.freeCpuUnits = UInt32(max(0, free.cpuUnits))
        status.freeMemoryMib = UInt64(max(0, free.memoryMiB))
        return status
    }

    /// Provisions a session on a running instance with a free seat, or on a newly launched one.
    public func provision(
        _ request: Skyport_Streamhost_V1_ProvisionRequest, context: ServerContext
    ) async throws -> Skyport_Streamhost_V1_ProvisionResponse {
        do {
            var response = try await self.runtime.provision(request)
            response.clientAddress = self.clientAddress()
            return response
        } catch {
            throw error.rpcError
        }
    }

    /// Launches a warm idle instance.
    public func startInstance(
        _ request: Skyport_Streamhost_V1_StartInstanceRequest, context: ServerContext
    ) async throws -> Skyport_Streamhost_V1_Instance {
        do { return try await self.runtime.startInstance(request) } catch { throw error.rpcError }
    }

    /// Drains or terminates an instance.
    public func stopInstance(
        _ request: Skyport_Streamhost_V1_StopInstanceRequest, context: ServerContext
    ) async throws -> Skyport_Streamhost_V1_Instance {
        do { return try await self.runtime.stopInstance(request) } catch { throw error.rpcError }
    }

    /// The instances the host runs and their sessions.
    public func listInstances(
        _ request: Skyport_Streamhost_V1_ListInstancesRequest, context: ServerContext
    ) async throws -> Skyport_Streamhost_V1_ListInstancesResponse {
        do { return try await self.runtime.listInstances() } catch { throw error.rpcError }
    }
}
