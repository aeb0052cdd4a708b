import SkyportInterop
import SkyportProto
import SkyportRPC
import SkyportTokens
import Synchronization

/// The sessions claimed so far across every fake data centre: the home's atomic, once-only claim.
final class ClaimRegistry: Sendable {
    private let claimed = Mutex<Set<[UInt8]>>([])

    /// Claims `tokenHash`; false when it was claimed before.
    func claim(_ tokenHash: [UInt8]) -> Bool {
        self.claimed.withLock { $0.insert(tokenHash).inserted }
    }
}

/// A host management of one data centre, as far as a redemption node sees one: it publishes the key of
/// a real `TokenIssuer`, reports capacity, and places redeemed sessions (claiming them once in a shared
/// registry). Tests switch its answers while it runs.
final class FakeHostManager: Skyport_Hostmgr_V1_HostManagerProvider, Sendable {
    /// How `RedeemSession` answers.
    enum RedeemAnswer: Sendable {
        /// Claim and place the session here.
        case place
        /// Fail with this status before claiming.
        case fail(Status.Code)
        /// Claim, then fail with this status (as a host management that timed out after its claim).
        case claimThenFail(Status.Code)
    }

    struct State {
        var capacityFailure: Status.Code?
        var freeSlots: UInt32 = 7
        var totalSlots: UInt32 = 8
        var redeemAnswer = RedeemAnswer.place
        var redeemed: [Skyport_Hostmgr_V1_RedeemSessionRequest] = []
        var capacityCalls = 0
    }

    let datacentre: String
    let issuer: TokenIssuer
    let claims: ClaimRegistry
    private let state = Mutex(State())

    init(datacentre: String, claims: ClaimRegistry) throws {
        self.datacentre = datacentre
        self.issuer = TokenIssuer(
            key: try TokenSigningKey.generate(keyID: "\(datacentre)-key-1"), homeDatacentre: datacentre)
        self.claims = claims
    }

    /// Changes how it answers.
    func update(_ change: (inout State) -> Void) {
        self.state.withLock { change(&$0) }
    }

    /// What it has been asked so far.
    var redeemed: [Skyport_Hostmgr_V1_RedeemSessionRequest] { self.state.withLock { $0.redeemed } }

    /// How many capacity probes it answered or refused.
    var capacityCalls: Int { self.state.withLock { $0.capacityCalls } }

    func getTokenKeys(
        _ request: Skyport_Hostmgr_V1_GetTokenKeysRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_GetTokenKeysResponse {
        var key = Skyport_Hostmgr_V1_TokenKey()
        key.keyId = self.issuer.key.keyID
        key.publicKey = self.issuer.key.publicKey.rawRepresentation
        var response = Skyport_Hostmgr_V1_GetTokenKeysResponse()
        response.keys = [key]
        response.datacentre = self.datacentre
        return response
    }

    func getCapacity(
        _ request: Skyport_Hostmgr_V1_GetCapacityRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_CapacitySummary {
        let state = self.state.withLock { state in
            state.capacityCalls += 1
            return state
        }
        if let failure = state.capacityFailure { throw RPCError(code: failure, message: "fake capacity failure") }
        var summary = Skyport_Hostmgr_V1_CapacitySummary()
        summary.datacentre = self.datacentre
        summary.hostsUp = 1
        summary.freeSlots = state.freeSlots
        summary.totalSlots = state.totalSlots
        return summary
    }

    func redeemSession(
        _ request: Skyport_Hostmgr_V1_RedeemSessionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_SessionPlacement {
        let answer = self.state.withLock { state in
            state.redeemed.append(request)
            return state.redeemAnswer
        }
        switch answer {
        case .fail(let code):
            throw RPCError(code: code, message: "fake \(self.datacentre) refuses")
        case .claimThenFail(let code):
            _ = self.claims.claim(request.tokenHash)
            throw RPCError(code: code, message: "fake \(self.datacentre) claimed, then failed")
        case .place:
            guard self.claims.claim(request.tokenHash) else {
                throw RPCError(code: .failedPrecondition, message: "session \(request.sessionId) was redeemed already")
            }
            var placement = Skyport_Hostmgr_V1_SessionPlacement()
            placement.sessionId = request.sessionId
            placement.datacentre = self.datacentre
            placement.hostId = "\(self.datacentre)-host-1"
            placement.clientAddress = "\(self.datacentre).example:7443"
            placement.sessionCredential = [0xC0, 0xFF, 0xEE]
            placement.connectByUnixMs = 1_900_000_000_000
            placement.instanceId = "ins_1"
            placement.appId = "app-1"
            placement.versionId = "v1"
            placement.reason = "warm instance"
            return placement
        }
    }

    func registerHost(
        _ request: Skyport_Hostmgr_V1_RegisterHostRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_Host { throw Self.notFaked }

    func listHosts(
        _ request: Skyport_Hostmgr_V1_ListHostsRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ListHostsResponse { throw Self.notFaked }

    func createSession(
        _ request: Skyport_Hostmgr_V1_CreateSessionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_CreateSessionResponse { throw Self.notFaked }

    func claimSession(
        _ request: Skyport_Hostmgr_V1_ClaimSessionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ClaimSessionResponse { throw Self.notFaked }

    func releaseClaim(
        _ request: Skyport_Hostmgr_V1_ClaimSessionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ReleaseClaimResponse { throw Self.notFaked }

    func placeSession(
        _ request: Skyport_Hostmgr_V1_PlaceSessionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_SessionPlacement { throw Self.notFaked }

    func heartbeat(
        _ request: Skyport_Hostmgr_V1_HeartbeatRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_HeartbeatResponse { throw Self.notFaked }

    func reportEvents(
        _ request: Skyport_Hostmgr_V1_ReportEventsRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ReportEventsResponse { throw Self.notFaked }

    func saveSessionState(
        _ request: Skyport_Hostmgr_V1_SaveSessionStateRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_SaveSessionStateResponse { throw Self.notFaked }

    func setBufferTarget(
        _ request: Skyport_Hostmgr_V1_BufferTarget, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_BufferTarget { throw Self.notFaked }

    func listBufferTargets(
        _ request: Skyport_Hostmgr_V1_ListBufferTargetsRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ListBufferTargetsResponse { throw Self.notFaked }

    func deployVersion(
        _ request: Skyport_Hostmgr_V1_DeployVersionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_DeployVersionResponse { throw Self.notFaked }

    func listSessions(
        _ request: Skyport_Hostmgr_V1_ListSessionsRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ListSessionsResponse { throw Self.notFaked }

    /// What the methods a redemption node never calls answer.
    static let notFaked = RPCError(code: .unimplemented, message: "not part of the fake")
}
