import SkyportInterop
public import SkyportProto
public import SkyportRPC
import SkyportSecurity
import SkyportService
public import SkyportStorage
import SkyportTokens

/// `skyport.hostmgr.v1.HostManager` for one data centre: hosts (``HostStore``), sessions
/// (``SessionStore``) and the token signing keys (``TokenKeyStore``).
public struct HostManagerService: Skyport_Hostmgr_V1_HostManagerProvider {
    /// How long after a token's expiry a claim is still accepted: the clock skew redemption nodes allow.
    public static let claimGraceMilliseconds = TokenVerifier.defaultClockSkew.wholeMilliseconds

    let store: HostStore
    let sessions: SessionStore
    let keys: TokenKeyStore
    let datacentre: String

    /// A service over the stores of `database`, owning `datacentre`.
    public init(database: Database, datacentre: String) {
        self.init(
            store: HostStore(database: database), sessions: SessionStore(database: database),
            keys: TokenKeyStore(database: database, datacentre: datacentre), datacentre: datacentre)
    }

    /// A service over its stores, owning `datacentre`.
    public init(store: HostStore, sessions: SessionStore, keys: TokenKeyStore, datacentre: String) {
        self.store = store
        self.sessions = sessions
        self.keys = keys
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

    /// Creates a session and mints its one-time token; only the token's hash is stored.
    public func createSession(
        _ request: Skyport_Hostmgr_V1_CreateSessionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_CreateSessionResponse {
        try ServiceSupport.requireText(request.appId, field: "app_id", maxLength: 64)
        try ServiceSupport.requireText(request.userId, field: "user_id", maxLength: 128)
        try ServiceSupport.requireText(request.developerId, field: "developer_id", maxLength: 64)
        if !request.groupId.isEmpty { try ServiceSupport.requireText(request.groupId, field: "group_id", maxLength: 128) }
        if !request.clientAddress.isEmpty {
            try ServiceSupport.requireText(request.clientAddress, field: "client_address", maxLength: 64)
        }
        var cidr: CIDR?
        if !request.clientCidr.isEmpty {
            guard let parsed = CIDR(request.clientCidr) else {
                throw RPCError(code: .invalidArgument, message: "client_cidr must be an address block like 203.0.113.0/24")
            }
            cidr = parsed
        }
        let validitySeconds = request.tokenValiditySeconds == 0 ? 60 : Int64(request.tokenValiditySeconds)
        guard (1...604_800).contains(validitySeconds) else {
            throw RPCError(code: .invalidArgument, message: "token_validity_seconds must be 1 to 604800 (7 days)")
        }
        let now = ServiceSupport.nowUnixMilliseconds()
        let sessionID = ServiceSupport.newIdentifier(prefix: "ses")
        let issued = try await ServiceSupport.store {
            let issuer = TokenIssuer(key: try await self.keys.currentKey(now: now), homeDatacentre: self.datacentre)
            let issued = try issuer.issue(
                sessionID: sessionID, appID: request.appId, validity: .seconds(validitySeconds), clientCIDR: cidr,
                nowMilliseconds: now)
            try await self.sessions.create(
                SessionStore.Session(
                    sessionID: sessionID, appID: request.appId, userID: request.userId, developerID: request.developerId,
                    groupID: request.groupId, clientAddress: request.clientAddress,
                    tokenHash: SessionToken.hash(issued.token), createdAtMilliseconds: now,
                    expiresAtMilliseconds: issued.claims.expiresAtMilliseconds))
            return issued
        }
        var response = Skyport_Hostmgr_V1_CreateSessionResponse()
        response.sessionId = sessionID
        response.tokenText = issued.token
        response.token = issued.bytes
        response.expiresAtUnixMs = issued.claims.expiresAtMilliseconds
        return response
    }

    /// The public keys of this data centre's token signers.
    public func getTokenKeys(
        _ request: Skyport_Hostmgr_V1_GetTokenKeysRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_GetTokenKeysResponse {
        var response = Skyport_Hostmgr_V1_GetTokenKeysResponse()
        response.datacentre = self.datacentre
        response.keys = try await ServiceSupport.store { try await self.keys.publishedKeys() }.map { key in
            var message = Skyport_Hostmgr_V1_TokenKey()
            message.keyId = key.keyID
            message.publicKey = key.publicKey.rawRepresentation
            message.createdAtUnixMs = key.createdAtMilliseconds
            return message
        }
        return response
    }

    /// Claims a session once: NOT_FOUND for an unknown session or token, FAILED_PRECONDITION when it
    /// was redeemed before or its token expired.
    public func claimSession(
        _ request: Skyport_Hostmgr_V1_ClaimSessionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ClaimSessionResponse {
        try ServiceSupport.requireText(request.sessionId, field: "session_id", maxLength: 64)
        guard request.tokenHash.count == 32 else {
            throw RPCError(code: .invalidArgument, message: "token_hash must be the 32-byte SHA-256 of the token")
        }
        try ServiceSupport.requireName(request.claimingDatacentre, field: "claiming_datacentre")
        // Recorded as the authenticated caller, with the data centre it names (not a name it could forge).
        let caller = AuthenticatedCaller.current.map { "\($0)" } ?? "unknown"
        let claimant = "\(caller)@\(request.claimingDatacentre)"
        let outcome = try await ServiceSupport.store {
            try await self.sessions.claim(
                sessionID: request.sessionId, tokenHash: request.tokenHash, by: claimant,
                now: ServiceSupport.nowUnixMilliseconds(), graceMilliseconds: Self.claimGraceMilliseconds)
        }
        switch outcome {
        case .claimed(let session, let time):
            var response = Skyport_Hostmgr_V1_ClaimSessionResponse()
            response.sessionId = session.sessionID
            response.appId = session.appID
            response.userId = session.userID
            response.developerId = session.developerID
            response.groupId = session.groupID
            response.claimedAtUnixMs = time
            return response
        case .notFound:
            throw RPCError(code: .notFound, message: "no session \(request.sessionId) with this token")
        case .alreadyClaimed:
            throw RPCError(code: .failedPrecondition, message: "session \(request.sessionId) was redeemed already")
        case .expired:
            throw RPCError(code: .failedPrecondition, message: "the token of session \(request.sessionId) expired")
        }
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
    public func redeemSession(_ request: Skyport_Hostmgr_V1_RedeemSessionRequest, context: ServerContext) async throws -> Skyport_Hostmgr_V1_SessionPlacement {
        throw ServiceSupport.unimplemented(Skyport_Hostmgr_V1_HostManagerMethods.redeemSession)
    }

    public func placeSession(_ request: Skyport_Hostmgr_V1_PlaceSessionRequest, context: ServerContext) async throws -> Skyport_Hostmgr_V1_SessionPlacement {
        throw ServiceSupport.unimplemented(Skyport_Hostmgr_V1_HostManagerMethods.placeSession)
    }

    public func getCapacity(_ request: Skyport_Hostmgr_V1_GetCapacityRequest, context: ServerContext) async throws -> Skyport_Hostmgr_V1_CapacitySummary {
        throw ServiceSupport.unimplemented(Skyport_Hostmgr_V1_HostManagerMethods.getCapacity)
    }

    public func heartbeat(_ request: Skyport_Hostmgr_V1_HeartbeatRequest, context: ServerContext) async throws -> Skyport_Hostmgr_V1_HeartbeatResponse {
        throw ServiceSupport.unimplemented(Skyport_Hostmgr_V1_HostManagerMethods.heartbeat)
    }

    public func reportEvents(_ request: Skyport_Hostmgr_V1_ReportEventsRequest, context: ServerContext) async throws -> Skyport_Hostmgr_V1_ReportEventsResponse {
        throw ServiceSupport.unimplemented(Skyport_Hostmgr_V1_HostManagerMethods.reportEvents)
    }

    public func saveSessionState(_ request: Skyport_Hostmgr_V1_SaveSessionStateRequest, context: ServerContext) async throws -> Skyport_Hostmgr_V1_SaveSessionStateResponse {
        throw ServiceSupport.unimplemented(Skyport_Hostmgr_V1_HostManagerMethods.saveSessionState)
    }

    public func setBufferTarget(_ request: Skyport_Hostmgr_V1_BufferTarget, context: ServerContext) async throws -> Skyport_Hostmgr_V1_BufferTarget {
        throw ServiceSupport.unimplemented(Skyport_Hostmgr_V1_HostManagerMethods.setBufferTarget)
    }

    public func listBufferTargets(_ request: Skyport_Hostmgr_V1_ListBufferTargetsRequest, context: ServerContext) async throws -> Skyport_Hostmgr_V1_ListBufferTargetsResponse {
        throw ServiceSupport.unimplemented(Skyport_Hostmgr_V1_HostManagerMethods.listBufferTargets)
    }

    public func deployVersion(_ request: Skyport_Hostmgr_V1_DeployVersionRequest, context: ServerContext) async throws -> Skyport_Hostmgr_V1_DeployVersionResponse {
        throw ServiceSupport.unimplemented(Skyport_Hostmgr_V1_HostManagerMethods.deployVersion)
    }

    public func listSessions(_ request: Skyport_Hostmgr_V1_ListSessionsRequest, context: ServerContext) async throws -> Skyport_Hostmgr_V1_ListSessionsResponse {
        throw ServiceSupport.unimplemented(Skyport_Hostmgr_V1_HostManagerMethods.listSessions)
    }

}
