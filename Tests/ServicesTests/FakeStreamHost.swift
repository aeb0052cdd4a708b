import Foundation
import SkyportProto
import SkyportRPC
import Synchronization

/// A stream host that launches nothing: it keeps the instances host management asked it for in memory,
/// records every Provision, StartInstance and StopInstance it was sent, assigns instance ids, and its
/// ListInstances answers with what it actually "runs". Tests change what it runs (a crash, a session
/// that ended) to make its view and host management's differ.
final class FakeStreamHost: Skyport_Streamhost_V1_StreamHostProvider {
    typealias Instance = Skyport_Streamhost_V1_Instance

    struct State {
        var instances: [String: Instance] = [:]
        var provisions: [Skyport_Streamhost_V1_ProvisionRequest] = []
        var starts: [Skyport_Streamhost_V1_StartInstanceRequest] = []
        var stops: [Skyport_Streamhost_V1_StopInstanceRequest] = []
        var launched = 0
    }

    let hostID: String
    let datacentre: String
    /// host:port host management reaches it at (an in-process name, never a socket).
    let address: String
    private let state = Mutex(State())

    init(hostID: String, datacentre: String) {
        self.hostID = hostID
        self.datacentre = datacentre
        self.address = "\(hostID).\(datacentre).test:7107"
    }

    // MARK: What tests read and change

    /// The Provision requests received, in order.
    var provisions: [Skyport_Streamhost_V1_ProvisionRequest] { self.state.withLock { $0.provisions } }
    /// The StartInstance requests received, in order.
    var starts: [Skyport_Streamhost_V1_StartInstanceRequest] { self.state.withLock { $0.starts } }
    /// The StopInstance requests received, in order.
    var stops: [Skyport_Streamhost_V1_StopInstanceRequest] { self.state.withLock { $0.stops } }
    /// Provisions that launched an instance (plus StartInstance calls are in ``starts``).
    var launches: Int { self.state.withLock { $0.launched } }
    /// What it runs now, by instance id.
    var instances: [Instance] { self.state.withLock { $0.instances.values.sorted { $0.instanceId < $1.instanceId } } }

    /// What a heartbeat of this host reports: exactly what it runs.
    var report: [Skyport_Hostmgr_V1_InstanceReport] {
        self.instances.map { instance in
            var report = Skyport_Hostmgr_V1_InstanceReport()
            report.instanceId = instance.instanceId
            report.appId = instance.appId
            report.versionId = instance.versionId
            report.seats = instance.seats
            report.sessionIds = instance.sessionIds
            report.state = instance.state
            return report
        }
    }

    /// A heartbeat of this host reporting what it runs.
    var heartbeat: Skyport_Hostmgr_V1_HeartbeatRequest {
        var request = Skyport_Hostmgr_V1_HeartbeatRequest()
        request.hostId = self.hostID
        request.instances = self.report
        request.sentAtUnixMs = Int64(Date().timeIntervalSince1970 * 1000)
        return request
    }

    /// The instance crashed: it no longer runs, nor do its sessions.
    func crash(_ instanceID: String) {
        self.state.withLock { _ = $0.instances.removeValue(forKey: instanceID) }
    }

    /// A session ended on the host (its instance stays, idle when it was the last).
    func end(session sessionID: String) {
        self.state.withLock { state in
            for (id, var instance) in state.instances where instance.sessionIds.contains(sessionID) {
                instance.sessionIds.removeAll { $0 == sessionID }
                if instance.sessionIds.isEmpty, instance.state == "active" { instance.state = "idle" }
                state.instances[id] = instance
            }
        }
    }

    // MARK: StreamHost

    func getStatus(
        _ request: Skyport_Streamhost_V1_GetStatusRequest, context: ServerContext
    ) async throws -> Skyport_Streamhost_V1_HostStatus {
        var status = Skyport_Streamhost_V1_HostStatus()
        status.hostId = self.hostID
        status.datacentre = self.datacentre
        status.address = self.address
        return status
    }

    func provision(
        _ request: Skyport_Streamhost_V1_ProvisionRequest, context: ServerContext
    ) async throws -> Skyport_Streamhost_V1_ProvisionResponse {
        guard let app = request.app else { throw RPCError(code: .invalidArgument, message: "app is required") }
        let (instance, launched) = try self.state.withLock { state throws(RPCError) -> (Instance, Bool) in
            state.provisions.append(request)
            if !request.instanceId.isEmpty {
                guard var instance = state.instances[request.instanceId] else {
                    throw RPCError(code: .notFound, message: "no instance \(request.instanceId)")
                }
                guard ["idle", "active"].contains(instance.state), instance.sessionIds.count < Int(instance.seats)
                else {
                    throw RPCError(
                        code: .failedPrecondition, message: "instance \(request.instanceId) has no free seat")
                }
                instance.sessionIds.append(request.sessionId)
                instance.state = "active"
                state.instances[instance.instanceId] = instance
                return (instance, false)
            }
            state.launched += 1
            var instance = Self.instance(app, id: "ins_\(self.hostID)_\(state.launched)")
            instance.sessionIds = [request.sessionId]
            instance.state = "active"
            state.instances[instance.instanceId] = instance
            return (instance, true)
        }
        var response = Skyport_Streamhost_V1_ProvisionResponse()
        response.clientAddress = "\(self.hostID).\(self.datacentre).test:7108"
        response.sessionCredential = Array(repeating: 7, count: 32)
        response.connectByUnixMs =
            Int64(Date().timeIntervalSince1970 * 1000) + Int64(request.connectWithinSeconds) * 1000
        response.instanceId = instance.instanceId
        response.launched = launched
        response.hostId = self.hostID
        return response
    }

    func startInstance(
        _ request: Skyport_Streamhost_V1_StartInstanceRequest, context: ServerContext
    ) async throws -> Instance {
        guard let app = request.app else { throw RPCError(code: .invalidArgument, message: "app is required") }
        return self.state.withLock { state in
            state.starts.append(request)
            let instance = Self.instance(app, id: "ins_\(self.hostID)_w\(state.starts.count)")
            state.instances[instance.instanceId] = instance
            return instance
        }
    }

    func stopInstance(
        _ request: Skyport_Streamhost_V1_StopInstanceRequest, context: ServerContext
    ) async throws -> Instance {
        try self.state.withLock { state throws(RPCError) -> Instance in
            state.stops.append(request)
            guard var instance = state.instances[request.instanceId] else {
                throw RPCError(code: .notFound, message: "no instance \(request.instanceId)")
            }
            instance.state = request.terminate ? "stopping" : "draining"
            state.instances[instance.instanceId] = instance
            return instance
        }
    }

    func listInstances(
        _ request: Skyport_Streamhost_V1_ListInstancesRequest, context: ServerContext
    ) async throws -> Skyport_Streamhost_V1_ListInstancesResponse {
        var response = Skyport_Streamhost_V1_ListInstancesResponse()
        response.hostId = self.hostID
        response.instances = self.instances
        return response
    }

    static func instance(_ app: Skyport_Streamhost_V1_AppSpec, id: String) -> Instance {
        var instance = Instance()
        instance.instanceId = id
        instance.appId = app.appId
        instance.versionId = app.versionId
        instance.seats = max(1, app.sessionsPerInstance)
        instance.state = "idle"
        instance.startedAtUnixMs = Int64(Date().timeIntervalSince1970 * 1000)
        return instance
    }
}
