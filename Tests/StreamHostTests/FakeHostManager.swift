import Foundation
import Logging
import SkyportHTTP2
import SkyportProto
import SkyportRPC
import Synchronization

/// Host management as far as a stream host needs it (RegisterHost, Heartbeat, ReportEvents), served
/// over real mutual TLS with the `hostmgr` certificate. It can be made unavailable, and it keeps the
/// events it accepted in order, ignoring repeated event ids as the real one does.
final class FakeHostManager: Skyport_Hostmgr_V1_HostManagerProvider {
    struct State {
        var available = true
        var registrations: [Skyport_Hostmgr_V1_RegisterHostRequest] = []
        var heartbeats: [Skyport_Hostmgr_V1_HeartbeatRequest] = []
        var events: [Skyport_Hostmgr_V1_HostEvent] = []
        var refusedReports = 0
    }

    let state = Mutex(State())

    /// A server for it (bind it to serve).
    func makeServer(tlsDirectory: String) throws -> HTTP2Server {
        let tls = ServerTLS(
            certificateChainPath: "\(tlsDirectory)/hostmgr.pem", privateKeyPath: "\(tlsDirectory)/hostmgr-key.pem",
            clientCAPath: "\(tlsDirectory)/ca.pem")
        return try HTTP2Server(router: Router(services: [self]), tls: tls, logger: Logger(label: "fake-hostmgr"))
    }

    var events: [Skyport_Hostmgr_V1_HostEvent] { self.state.withLock { $0.events } }

    func setAvailable(_ available: Bool) {
        self.state.withLock { $0.available = available }
    }

    private func checkAvailable() throws {
        guard self.state.withLock({ $0.available }) else {
            throw RPCError(code: .unavailable, message: "fake host management is down")
        }
    }

    func registerHost(_ request: Skyport_Hostmgr_V1_RegisterHostRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_Host
    {
        try self.checkAvailable()
        self.state.withLock { $0.registrations.append(request) }
        var host = Skyport_Hostmgr_V1_Host()
        host.hostId = request.hostId
        host.datacentre = request.datacentre
        host.lastSeenUnixMs = Int64(Date().timeIntervalSince1970 * 1000)
        host.heartbeatIntervalMs = 200
        return host
    }

    func heartbeat(_ request: Skyport_Hostmgr_V1_HeartbeatRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_HeartbeatResponse
    {
        try self.checkAvailable()
        self.state.withLock { $0.heartbeats.append(request) }
        var response = Skyport_Hostmgr_V1_HeartbeatResponse()
        response.intervalMs = 200
        return response
    }

    func reportEvents(_ request: Skyport_Hostmgr_V1_ReportEventsRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_ReportEventsResponse
    {
        return try self.state.withLock { state in
            guard state.available else {
                state.refusedReports += 1
                throw RPCError(code: .unavailable, message: "fake host management is down")
            }
            let known = Set(state.events.map(\.eventId))
            let fresh = request.events.filter { !known.contains($0.eventId) }
            state.events += fresh
            var response = Skyport_Hostmgr_V1_ReportEventsResponse()
            response.accepted = UInt32(fresh.count)
            return response
        }
    }

    private func unused(_ method: String) -> RPCError {
        RPCError(code: .unimplemented, message: "\(method) is not part of the fake")
    }

    func listHosts(_ request: Skyport_Hostmgr_V1_ListHostsRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_ListHostsResponse
    { throw self.unused("ListHosts") }
    func createSession(_ request: Skyport_Hostmgr_V1_CreateSessionRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_CreateSessionResponse
    { throw self.unused("CreateSession") }
    func getTokenKeys(_ request: Skyport_Hostmgr_V1_GetTokenKeysRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_GetTokenKeysResponse
    { throw self.unused("GetTokenKeys") }
    func claimSession(_ request: Skyport_Hostmgr_V1_ClaimSessionRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_ClaimSessionResponse
    { throw self.unused("ClaimSession") }
    func releaseClaim(_ request: Skyport_Hostmgr_V1_ClaimSessionRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_ReleaseClaimResponse
    { throw self.unused("ReleaseClaim") }
    func redeemSession(_ request: Skyport_Hostmgr_V1_RedeemSessionRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_SessionPlacement
    { throw self.unused("RedeemSession") }
    func placeSession(_ request: Skyport_Hostmgr_V1_PlaceSessionRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_SessionPlacement
    { throw self.unused("PlaceSession") }
    func getCapacity(_ request: Skyport_Hostmgr_V1_GetCapacityRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_CapacitySummary
    { throw self.unused("GetCapacity") }
    func saveSessionState(_ request: Skyport_Hostmgr_V1_SaveSessionStateRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_SaveSessionStateResponse
    { throw self.unused("SaveSessionState") }
    func setBufferTarget(_ request: Skyport_Hostmgr_V1_BufferTarget, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_BufferTarget
    { throw self.unused("SetBufferTarget") }
    func listBufferTargets(_ request: Skyport_Hostmgr_V1_ListBufferTargetsRequest, context: ServerContext)
        async throws -> Skyport_Hostmgr_V1_ListBufferTargetsResponse
    { throw self.unused("ListBufferTargets") }
    func deployVersion(_ request: Skyport_Hostmgr_V1_DeployVersionRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_DeployVersionResponse
    { throw self.unused("DeployVersion") }
    func listSessions(_ request: Skyport_Hostmgr_V1_ListSessionsRequest, context: ServerContext) async throws
        -> Skyport_Hostmgr_V1_ListSessionsResponse
    { throw self.unused("ListSessions") }
}
