import SkyportInterop
public import Logging
public import SkyportProto
public import SkyportRPC
import SkyportSecurity
import SkyportService
public import SkyportStorage
import SkyportTokens
import Synchronization

/// `skyport.hostmgr.v1.HostManager` for one data centre: hosts (``HostStore``), what runs on them
/// (``PlacementStore``), sessions and their tokens (``SessionStore``, ``TokenKeyStore``), the application
/// versions and buffer targets (``AppCatalogStore``), users' saved state (``SessionStateStore``) and the
/// usage outbox (``UsageOutbox``). Placement is in `HostManagerService+Placement.swift`, heartbeats and
/// events in `+Hosts`, versions and the buffer pool in `+Versions`.
public struct HostManagerService: Skyport_Hostmgr_V1_HostManagerProvider {
    /// How long after a token's expiry a claim is still accepted: the clock skew redemption nodes allow.
    public static let claimGraceMilliseconds = TokenVerifier.defaultClockSkew.wholeMilliseconds

    /// What the service is told by configuration.
    public struct Settings: Sendable {
        /// The data centre it owns.
        public var datacentre: String
        /// How often hosts heartbeat (`heartbeat-interval`); a host silent for 3 intervals is lost.
        public var heartbeatInterval: Duration = .seconds(60)
        /// How long a client has to connect to its host after redeeming (`connect-within`).
        public var connectWithin: Duration = .seconds(30)

        /// Settings for `datacentre` with the defaults.
        public init(datacentre: String) {
            self.datacentre = datacentre
        }
    }

    let store: HostStore
    let sessions: SessionStore
    let keys: TokenKeyStore
    let placements: PlacementStore
    let catalog: AppCatalogStore
    let states: SessionStateStore
    let settings: Settings
    let links: any HostManagerLinks
    let peerCapacity: PeerCapacity
    let metrics: HostManagerMetrics
    let maintenance: MaintenanceSignal
    let logger: Logger
    /// `app/version` pairs recorded in the catalogue by this process, so placement writes each once.
    let knownVersions = KnownSet()
    /// Sessions the last heartbeat of each host did not report.
    let missingSessions = MissingSessions()

    var datacentre: String { self.settings.datacentre }

    /// A service over the stores of `database`.
    ///
    /// - Parameters:
    ///   - links: how it reaches stream hosts and peers.
    ///   - peerCapacity: the peers' capacity, kept fresh by a ``PeerExchange``.
    ///   - maintenance: wakes the ``MaintenanceLoop`` early (e.g. to refill the buffer pool).
    public init(
        database: Database, settings: Settings, links: any HostManagerLinks,
        peerCapacity: PeerCapacity = PeerCapacity(),
        metrics: HostManagerMetrics = HostManagerMetrics(), maintenance: MaintenanceSignal = MaintenanceSignal(),
        logger: Logger
    ) {
        self.store = HostStore(database: database)
        self.sessions = SessionStore(database: database)
        self.keys = TokenKeyStore(database: database, datacentre: settings.datacentre)
        self.placements = PlacementStore(database: database)
        self.catalog = AppCatalogStore(database: database)
        self.states = SessionStateStore(database: database)
        self.settings = settings
        self.links = links
        self.peerCapacity = peerCapacity
        self.metrics = metrics
        self.maintenance = maintenance
        self.logger = logger
    }

    /// Records (or refreshes) a stream host as up, with its packages; FAILED_PRECONDITION when it belongs to
    /// another data centre.
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
        guard request.packages.count <= 10_000 else {
            throw RPCError(code: .invalidArgument, message: "at most 10000 packages per host")
        }
        var packages: [String] = []
        for package in request.packages {
            try ServiceSupport.requireText(package.appId, field: "packages.app_id", maxLength: 64)
            try ServiceSupport.requireText(package.versionId, field: "packages.version_id", maxLength: 64)
            guard !package.appId.utf8.contains(UInt8(ascii: "/")), !package.versionId.utf8.contains(UInt8(ascii: "/"))
            else {
                throw RPCError(code: .invalidArgument, message: "package ids may not contain '/'")
            }
            packages.append("\(package.appId)/\(package.versionId)")
        }
        let now = ServiceSupport.nowUnixMilliseconds()
        let host = try await ServiceSupport.store {
            try await self.store.register(
                HostStore.Host(
                    hostID: request.hostId, address: request.address, datacentre: request.datacentre,
                    slots: Int64(request.slots), cpuUnits: Int64(request.cpuUnits), memoryMiB: Int64(request.memoryMib),
                    gpuScore: Int64(request.gpuScore), registeredAtMilliseconds: now, lastSeenMilliseconds: now,
                    packages: packages))
        }
        self.maintenance.wake()
        return self.message(host)
    }

    /// The registered hosts of this data centre.
    public func listHosts(
        _ request: Skyport_Hostmgr_V1_ListHostsRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ListHostsResponse {
        var response = Skyport_Hostmgr_V1_ListHostsResponse()
        response.hosts = try await ServiceSupport.store { try await self.store.all() }.map(self.message)
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
        if !request.groupId.isEmpty {
            try ServiceSupport.requireText(request.groupId, field: "group_id", maxLength: 128)
        }
        if !request.clientAddress.isEmpty {
            try ServiceSupport.requireText(request.clientAddress, field: "client_address", maxLength: 64)
        }
        var cidr: CIDR?
        if !request.clientCidr.isEmpty {
            guard let parsed = CIDR(request.clientCidr) else {
                throw RPCError(
                    code: .invalidArgument, message: "client_cidr must be an address block like 203.0.113.0/24")
            }
            cidr = parsed
        }
        guard let app = request.app else { throw RPCError(code: .invalidArgument, message: "app is required") }
        try Self.validate(app, field: "app")
        guard app.appId == request.appId, app.developerId == request.developerId else {
            throw RPCError(code: .invalidArgument, message: "app must describe app_id of developer_id")
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
                    sessionID: sessionID, appID: request.appId, userID: request.userId,
                    developerID: request.developerId,
                    groupID: request.groupId, clientAddress: request.clientAddress,
                    tokenHash: SessionToken.hash(issued.token), createdAtMilliseconds: now,
                    expiresAtMilliseconds: issued.claims.expiresAtMilliseconds, versionID: app.versionId,
                    appLaunch: app.serializedBytes()))
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
        try await self.claim(
            sessionID: request.sessionId, tokenHash: request.tokenHash, by: try Self.claimant(of: request))
    }

    /// Gives back a claim the caller's data centre holds; NOT_FOUND when it holds none for this token.
    public func releaseClaim(
        _ request: Skyport_Hostmgr_V1_ClaimSessionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ReleaseClaimResponse {
        let claimant = try Self.claimant(of: request)
        guard
            try await ServiceSupport.store({
                try await self.sessions.releaseClaim(
                    sessionID: request.sessionId, tokenHash: request.tokenHash, by: claimant)
            })
        else { throw RPCError(code: .notFound, message: "no claim of session \(request.sessionId) to release") }
        return Skyport_Hostmgr_V1_ReleaseClaimResponse()
    }

    /// Who claims (or releases) with `request`, after checking it: the authenticated caller with the data
    /// centre it names (recorded as such, not as a name the caller could forge).
    static func claimant(of request: Skyport_Hostmgr_V1_ClaimSessionRequest) throws -> String {
        try Self.requireSessionToken(sessionID: request.sessionId, tokenHash: request.tokenHash)
        try ServiceSupport.requireName(request.claimingDatacentre, field: "claiming_datacentre")
        return "\(Self.callerName)@\(request.claimingDatacentre)"
    }

    /// INVALID_ARGUMENT unless the request names a session and the 32-byte SHA-256 of its token.
    static func requireSessionToken(sessionID: String, tokenHash: [UInt8]) throws {
        try ServiceSupport.requireText(sessionID, field: "session_id", maxLength: 64)
        guard tokenHash.count == 32 else {
            throw RPCError(code: .invalidArgument, message: "token_hash must be the 32-byte SHA-256 of the token")
        }
    }

    /// The authenticated caller of the current call, as recorded in claims.
    static var callerName: String { AuthenticatedCaller.current.map { "\($0)" } ?? "unknown" }

    /// Claims a session of this data centre once, and returns what placing it needs: its application
    /// version and the user's prior saved state.
    func claim(sessionID: String, tokenHash: [UInt8], by claimant: String) async throws
        -> Skyport_Hostmgr_V1_ClaimSessionResponse
    {
        try await self.claim(sessionID: sessionID, tokenHash: tokenHash, by: claimant, reservingSeat: false).0
    }

    /// ``claim(sessionID:tokenHash:by:)``, and with `reservingSeat`, a seat on a running instance of the
    /// session's version taken in the same transaction (a session without a group; `nil` when no
    /// instance has a free seat). One transaction claims, reads the user's saved state and takes the
    /// seat: one trip to the store on the hot path.
    func claim(sessionID: String, tokenHash: [UInt8], by claimant: String, reservingSeat: Bool) async throws
        -> (Skyport_Hostmgr_V1_ClaimSessionResponse, PlacementStore.Seat?)
    {
        let (outcome, priorState, app, seat) = try await ServiceSupport.store {
            try await self.sessions.database.write { tx in
                let outcome = try await SessionStore.claim(
                    sessionID: sessionID, tokenHash: tokenHash, by: claimant, now: ServiceSupport.nowUnixMilliseconds(),
                    graceMilliseconds: Self.claimGraceMilliseconds, in: tx)
                guard case .claimed(let session, _) = outcome else {
                    return (outcome, [UInt8](), Skyport_Hostmgr_V1_AppLaunch(), PlacementStore.Seat?.none)
                }
                let app = try Skyport_Hostmgr_V1_AppLaunch(serializedBytes: session.appLaunch)
                let state = try await SessionStateStore.load(appID: session.appID, userID: session.userID, in: tx)
                guard reservingSeat, session.groupID.isEmpty else { return (outcome, state, app, nil) }
                // The seat and the placement on it are written with the claim: one transaction on the hot path.
                let seat = try await PlacementStore.reserveSeat(
                    for: PlacementStore.Placement(
                        sessionID: session.sessionID, appID: app.appId, versionID: app.versionId,
                        userID: session.userID, developerID: session.developerID, groupID: session.groupID,
                        homeDatacentre: self.datacentre, hostID: "", instanceID: "", state: "provisioned",
                        placedAtMilliseconds: ServiceSupport.nowUnixMilliseconds()),
                    preferredHosts: [], excluding: [], in: tx)
                return (outcome, state, app, seat)
            }
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
            response.homeDatacentre = self.datacentre
            response.app = app
            response.priorState = priorState
            return (response, seat)
        case .notFound:
            throw RPCError(code: .notFound, message: "no session \(sessionID) with this token")
        case .alreadyClaimed:
            throw RPCError(code: .failedPrecondition, message: "session \(sessionID) was redeemed already")
        case .expired:
            throw RPCError(code: .failedPrecondition, message: "the token of session \(sessionID) expired")
        }
    }

    /// Checks what an application version needs before it is stored or launched.
    static func validate(_ app: Skyport_Hostmgr_V1_AppLaunch, field: String) throws {
        try ServiceSupport.requireText(app.appId, field: "\(field).app_id", maxLength: 64)
        try ServiceSupport.requireText(app.versionId, field: "\(field).version_id", maxLength: 64)
        try ServiceSupport.requireText(app.developerId, field: "\(field).developer_id", maxLength: 64)
        guard !app.appId.utf8.contains(UInt8(ascii: "/")), !app.versionId.utf8.contains(UInt8(ascii: "/")) else {
            throw RPCError(code: .invalidArgument, message: "\(field) ids may not contain '/'")
        }
        guard app.launchCommand.utf8.count <= 1024 else {
            throw RPCError(code: .invalidArgument, message: "\(field).launch_command is longer than 1024 bytes")
        }
        guard app.sessionsPerInstance >= 1, app.sessionsPerInstance <= 10_000 else {
            throw RPCError(code: .invalidArgument, message: "\(field).sessions_per_instance must be 1 to 10000")
        }
        guard app.memoryMib <= 1 << 30 else {
            throw RPCError(code: .invalidArgument, message: "\(field).memory_mib is out of range")
        }
        try ServiceSupport.requireName(app.homeDatacentre, field: "\(field).home_datacentre")
    }

    func message(_ host: HostStore.Host) -> Skyport_Hostmgr_V1_Host {
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
        message.state = host.state
        message.packages = host.packages.map { package in
            var installed = Skyport_Hostmgr_V1_InstalledPackage()
            let parts = package.split(separator: "/", maxSplits: 1)
            installed.appId = String(parts[0])
            installed.versionId = parts.count > 1 ? String(parts[1]) : ""
            return installed
        }
        message.heartbeatIntervalMs = UInt32(clamping: self.settings.heartbeatInterval.wholeMilliseconds)
        return message
    }
}

/// The sessions each host's last heartbeat did not report (what the next heartbeat is compared with).
final class MissingSessions: Sendable {
    private let byHost = Mutex<[String: Set<String>]>([:])

    /// Stores `missing` as `host`'s latest and returns the sessions its previous heartbeat missed too.
    func replace(host: String, with missing: Set<String>) -> Set<String> {
        self.byHost.withLock { byHost in
            let previous = byHost[host] ?? []
            byHost[host] = missing.isEmpty ? nil : missing
            return missing.intersection(previous)
        }
    }
}

/// A set of strings shared by concurrent calls.
final class KnownSet: Sendable {
    private let members = Mutex<Set<String>>([])

    /// Adds `member`; true when it was not there before.
    @discardableResult
    func insert(_ member: String) -> Bool {
        self.members.withLock { $0.insert(member).inserted }
    }
}
