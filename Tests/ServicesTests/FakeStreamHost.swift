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
        /// Asked for a new instance, seat the session on an instance of its own with a free seat instead,
        /// answering `joined_starting` with this value (`nil`: always launch).
        var ownSeatsJoinStarting: Bool?
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

    /// Runs an instance host management has not heard of yet (as if started by the host itself).
    func run(appID: String, versionID: String, seats: UInt32) -> Instance {
        var app = Skyport_Streamhost_V1_AppSpec()
        app.appId = appID
        app.versionId = versionID
        app.sessionsPerInstance = seats
        return self.state.withLock { state in
            let instance = Self.instance(app, id: "ins_\(self.hostID)_own\(state.instances.count + 1)")
            state.instances[instance.instanceId] = instance
            return instance
        }
    }

    /// From now on, asked for a new instance, it seats the session on an instance of its own with a free
    /// seat when it has one, saying whether that instance was still starting (`joined_starting`).
    func seatOnOwnInstances(joiningStarting: Bool) {
        self.state.withLock { $0.ownSeatsJoinStarting = joiningStarting }
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
        let (instance, launched, joinedStarting) = try self.state.withLock {
            state throws(RPCError) -> (Instance, Bool, Bool) in
            state.provisions.append(request)
            if request.instanceId.isEmpty, let joining = state.ownSeatsJoinStarting,
                var own = state.instances.values.sorted(by: { $0.instanceId < $1.instanceId }).first(where: {
                    $0.appId == app.appId && $0.versionId == app.versionId && ["idle", "active"].contains($0.state)
                        && $0.sessionIds.count < Int($0.seats)
                })
            {
                own.sessionIds.append(request.sessionId)
                own.state = "active"
                state.instances[own.instanceId] = own
                return (own, false, joining)
            }
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
                return (instance, false, false)
            }
            state.launched += 1
            var instance = Self.instance(app, id: "ins_\(self.hostID)_\(state.launched)")
            instance.sessionIds = [request.sessionId]
            instance.state = "active"
            state.instances[instance.instanceId] = instance
            return (instance, true, false)
        }
        var response = Skyport_Streamhost_V1_ProvisionResponse()
        response.clientAddress = "\(self.hostID).\(self.datacentre).test:7108"
        response.sessionCredential = Array(repeating: 7, count: 32)
        response.connectByUnixMs =
            Int64(Date().timeIntervalSince1970 * 1000) + Int64(request.connectWithinSeconds) * 1000
        response.instanceId = instance.instanceId
        response.launched = launched
        response.joinedStarting = joinedStarting
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
