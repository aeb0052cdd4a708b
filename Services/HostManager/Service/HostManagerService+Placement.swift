public import SkyportProto
public import SkyportRPC
import SkyportService

/// Redemption and placement.
///
/// A redemption node forwards a verified token to the host management it chose (``redeemSession``).
/// That host management claims the session at its home (itself, or the home peer over mutual TLS),
/// then places it, in this order:
/// 1. a group whose sessions live in a peer data centre (and none here) sends the session there;
/// 2. a running instance of the session's version with a free seat: warm idle instances first, then
///    shared (multi-tenant) instances; on the group's hosts before others;
/// 3. a new instance on a host that holds the package, is up and has the slot, CPU, memory and GPU
///    score the profile needs: the group's hosts first, then the host with the most free slots (spread,
///    so one host's failure takes few sessions);
/// 4. a peer data centre with free slots, in the redemption node's order, then by free slots.
/// The stream host provisions it and returns the client's address and credential.
extension HostManagerService {
    /// Claims the session at its home and places it here or at a peer.
    public func redeemSession(
        _ request: Skyport_Hostmgr_V1_RedeemSessionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_SessionPlacement {
        try Self.requireSessionToken(sessionID: request.sessionId, tokenHash: request.tokenHash)
        try ServiceSupport.requireName(request.homeDatacentre, field: "home_datacentre")
        guard request.preferredDatacentres.count <= 64 else {
            throw RPCError(code: .invalidArgument, message: "at most 64 preferred_datacentres")
        }
        // A data centre with no room anywhere says so before the token is spent, so the redemption node can
        // try the next one.
        guard try await self.hasRoomHereOrAtPeers() else {
            throw RPCError(
                code: .resourceExhausted, message: "\(self.datacentre) and its peers have no free session slot")
        }
        let localClaimant = "\(Self.callerName)@\(self.datacentre)"
        var claim = Skyport_Hostmgr_V1_ClaimSessionRequest()
        claim.sessionId = request.sessionId
        claim.tokenHash = request.tokenHash
        claim.claimingDatacentre = self.datacentre
        let home = request.homeDatacentre == self.datacentre ? nil : try self.links.peer(request.homeDatacentre)
        guard request.homeDatacentre == self.datacentre || home != nil else {
            throw RPCError(
                code: .failedPrecondition, message: "data centre \(request.homeDatacentre) is not a known peer")
        }
        let claimed: Skyport_Hostmgr_V1_ClaimSessionResponse
        var seat: PlacementStore.Seat?
        if let home {
            claimed = try await Self.passingStatus(of: "claiming at \(request.homeDatacentre)") {
                try await home.claimSession(claim, options: CallOptions(timeout: .seconds(5)))
            }
        } else {
            (claimed, seat) = try await self.claim(
                sessionID: request.sessionId, tokenHash: request.tokenHash, by: localClaimant, reservingSeat: true)
        }
        do {
            return try await self.place(
                claimed, preferredPeers: request.preferredDatacentres, allowPeers: true, reserved: seat)
        } catch {
            // Not placed: give the claim back, so the token is not spent and the node can try elsewhere.
            do {
                if let home {
                    _ = try await home.releaseClaim(claim, options: CallOptions(timeout: .seconds(5)))
                } else {
                    _ = try await self.sessions.releaseClaim(
                        sessionID: request.sessionId, tokenHash: request.tokenHash, by: localClaimant)
                }
            } catch let release {
                self.logger.error(
                    "releasing the claim of an unplaced session failed",
                    metadata: ["session.id": "\(request.sessionId)", "error": "\(release)"])
            }
            throw error
        }
    }

    /// Places a session a peer claimed in this data centre (never forwarded further).
    public func placeSession(
        _ request: Skyport_Hostmgr_V1_PlaceSessionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_SessionPlacement {
        guard let session = request.session else {
            throw RPCError(code: .invalidArgument, message: "session is required")
        }
        try ServiceSupport.requireText(session.sessionId, field: "session.session_id", maxLength: 64)
        try ServiceSupport.requireText(session.userId, field: "session.user_id", maxLength: 128)
        guard session.priorState.count <= SessionStateStore.maximumBytes else {
            throw RPCError(code: .invalidArgument, message: "session.prior_state is larger than 1 MiB")
        }
        return try await self.place(session, preferredPeers: [], allowPeers: false)
    }

    /// Places a claimed session; RESOURCE_EXHAUSTED when nothing can take it. `reserved` is a seat the
    /// claim took already (for a session without a group), tried first; it is given back if unused.
    func place(
        _ session: Skyport_Hostmgr_V1_ClaimSessionResponse, preferredPeers: [String], allowPeers: Bool,
        reserved: PlacementStore.Seat? = nil
    ) async throws -> Skyport_Hostmgr_V1_SessionPlacement {
        let app: Skyport_Hostmgr_V1_AppLaunch
        let groupHosts: [String]
        do {
            guard let launch = session.app else {
                throw RPCError(code: .invalidArgument, message: "session.app is required")
            }
            app = launch
            try Self.validate(app, field: "session.app")
            try await self.remember(app)
            groupHosts =
                session.groupId.isEmpty
                ? [] : try await ServiceSupport.store { try await self.placements.hosts(ofGroup: session.groupId) }
        } catch {
            if let reserved { await self.release(reserved, of: session) }
            throw error
        }

        // 1. The group lives in a peer data centre.
        if allowPeers, !session.groupId.isEmpty, groupHosts.isEmpty,
            let peer = self.peerCapacity.all.values.sorted(by: { $0.datacentre < $1.datacentre })
                .first(where: { $0.activeGroups.contains(session.groupId) })
        {
            if let placed = await self.forward(
                session, to: peer.datacentre, reason: "group \(session.groupId) plays in \(peer.datacentre)")
            {
                return placed
            }
        }

        // 2. A running instance with a free seat (each tried once: one that fails is left to reconciliation).
        var tried: Set<String> = []
        var offered = reserved
        while true {
            let seat: PlacementStore.Seat
            if let taken = offered {
                seat = taken
                offered = nil
            } else if let found = try await ServiceSupport.store({
                try await self.placements.reserveSeat(
                    for: Self.placement(of: session, app: app, hostID: "", instanceID: ""),
                    preferredHosts: groupHosts, excluding: tried)
            }) {
                seat = found
            } else {
                break
            }
            let instance = seat.instance
            tried.insert(instance.instanceID)
            let warm = instance.sessions == 1
            do {
                var placed = try await self.provision(
                    session, onHost: instance.hostID, at: seat.hostAddress, instance: instance)
                placed.reason = warm ? "warm instance" : "free seat on a shared instance"
                if groupHosts.contains(instance.hostID) { placed.reason += " with its group" }
                self.metrics.count("skyport_hostmgr_placements_total", [("reason", warm ? "warm" : "seat")])
                if warm { self.maintenance.wake() }
                return placed
            } catch {
                await self.release(seat, of: session)
                self.logger.warning(
                    "provisioning on a running instance failed",
                    metadata: [
                        "session.id": "\(session.sessionId)", "host.id": "\(instance.hostID)",
                        "instance.id": "\(instance.instanceID)", "error": "\(error)",
                    ])
                if let rpc = error as? RPCError, rpc.code != .unavailable, rpc.code != .notFound,
                    rpc.code != .failedPrecondition, rpc.code != .resourceExhausted, rpc.code != .deadlineExceeded
                {
                    throw rpc
                }
                // The host's view differs from ours; the next heartbeat reconciles. Try elsewhere.
            }
        }

        // 3. A new instance on a host with room.
        for host in try await self.launchCandidates(for: app, preferring: groupHosts).prefix(3) {
            do {
                var placed = try await self.provision(session, onHost: host.hostID, at: host.address, instance: nil)
                if groupHosts.contains(host.hostID) { placed.reason += " next to its group" }
                self.metrics.count(
                    "skyport_hostmgr_placements_total", [("reason", placed.launched ? "launch" : "seat")])
                return placed
            } catch let error as RPCError
                where [.unavailable, .resourceExhausted, .deadlineExceeded, .failedPrecondition].contains(error.code)
            {
                self.logger.warning(
                    "launching failed; trying the next host",
                    metadata: ["session.id": "\(session.sessionId)", "host.id": "\(host.hostID)", "error": "\(error)"])
            }
        }

        // 4. A peer with room.
        if allowPeers {
            let summaries = self.peerCapacity.all
            let peers = summaries.values.filter { $0.freeSlots > 0 && $0.maxGpuScore >= app.minGpuScore }
                .sorted { lhs, rhs in
                    let left = preferredPeers.firstIndex(of: lhs.datacentre) ?? Int.max
                    let right = preferredPeers.firstIndex(of: rhs.datacentre) ?? Int.max
                    if left != right { return left < right }
                    if lhs.freeSlots != rhs.freeSlots { return lhs.freeSlots > rhs.freeSlots }
                    return lhs.datacentre < rhs.datacentre
                }
            for peer in peers {
                if let placed = await self.forward(
                    session, to: peer.datacentre, reason: "\(self.datacentre) has no room; \(peer.datacentre) has")
                {
                    return placed
                }
            }
        }
        self.logger.error(
            "no capacity for a claimed session",
            metadata: ["session.id": "\(session.sessionId)", "app.id": "\(app.appId)", "version": "\(app.versionId)"])
        throw RPCError(
            code: .resourceExhausted,
            message:
                "no host in \(self.datacentre)\(allowPeers ? " or its peers" : "") can run \(app.appId) \(app.versionId) now"
        )
    }

    /// Gives back a seat (and the placement on it) whose provisioning failed or was not tried; a failure
    /// is logged (the next heartbeat's reconciliation corrects the count).
    func release(_ seat: PlacementStore.Seat, of session: Skyport_Hostmgr_V1_ClaimSessionResponse) async {
        do {
            try await self.placements.releaseSeat(seat, of: session.sessionId)
        } catch {
            self.logger.error(
                "giving back a seat failed",
                metadata: [
                    "session.id": "\(session.sessionId)", "instance.id": "\(seat.instance.instanceID)",
                    "error": "\(error)",
                ])
        }
    }

    /// `session`'s placement on `instanceID` of `hostID`, placed now.
    static func placement(
        of session: Skyport_Hostmgr_V1_ClaimSessionResponse, app: Skyport_Hostmgr_V1_AppLaunch, hostID: String,
        instanceID: String
    ) -> PlacementStore.Placement {
        PlacementStore.Placement(
            sessionID: session.sessionId, appID: app.appId, versionID: app.versionId, userID: session.userId,
            developerID: session.developerId, groupID: session.groupId, homeDatacentre: session.homeDatacentre,
            hostID: hostID, instanceID: instanceID, state: "provisioned",
            placedAtMilliseconds: ServiceSupport.nowUnixMilliseconds())
    }

    /// Provisions the session on host `hostID` (control port at `address`): on `instance`, whose seat and
    /// placement are recorded already, or on a new instance (recorded here). Asked for a new instance, the
    /// host may instead seat the session on one of its own (one it is starting for another session, or a
    /// running one with a seat the store did not count); the placement's reason says which.
    func provision(
        _ session: Skyport_Hostmgr_V1_ClaimSessionResponse, onHost hostID: String, at address: String,
        instance: PlacementStore.Instance?
    ) async throws -> Skyport_Hostmgr_V1_SessionPlacement {
        let app = session.app ?? Skyport_Hostmgr_V1_AppLaunch()
        var request = Skyport_Streamhost_V1_ProvisionRequest()
        request.sessionId = session.sessionId
        request.userId = session.userId
        request.app = Self.spec(app)
        request.instanceId = instance?.instanceID ?? ""
        request.priorState = session.priorState
        request.connectWithinSeconds = UInt32(clamping: self.settings.connectWithin.wholeMilliseconds / 1000)
        request.groupId = session.groupId
        // A launch waits for the application to be ready (the stream host gives it 10 s).
        let response = try await Self.passingStatus(of: "provisioning on \(hostID)") {
            try await self.links.streamHost(at: address).provision(
                request, options: CallOptions(timeout: instance == nil ? .seconds(15) : .seconds(5)))
        }
        if instance == nil {
            // The host either launched an instance or attached the session to one of its own with a free
            // seat; either way the store takes one more session on that instance.
            let placement = Self.placement(of: session, app: app, hostID: hostID, instanceID: response.instanceId)
            let launched = PlacementStore.Instance(
                instanceID: response.instanceId, hostID: hostID, appID: app.appId, versionID: app.versionId,
                seats: Int64(app.sessionsPerInstance), sessions: 1, cpuUnits: Int64(app.cpuUnits),
                memoryMiB: Int64(app.memoryMib), state: "active", startedAtMilliseconds: placement.placedAtMilliseconds)
            try await ServiceSupport.store { try await self.placements.recordLaunched(placement, on: launched) }
        }
        var placed = Skyport_Hostmgr_V1_SessionPlacement()
        placed.sessionId = session.sessionId
        placed.datacentre = self.datacentre
        placed.hostId = hostID
        placed.clientAddress = response.clientAddress
        placed.sessionCredential = response.sessionCredential
        placed.connectByUnixMs = response.connectByUnixMs
        placed.instanceId = response.instanceId
        placed.launched = response.launched
        if instance == nil {
            placed.reason =
                response.launched
                ? "launched"
                : response.joinedStarting ? "joined an instance being launched" : "free seat the host found"
        }
        placed.appId = app.appId
        placed.versionId = app.versionId
        return placed
    }

    /// Hosts that could launch an instance of `app` now, best first.
    func launchCandidates(for app: Skyport_Hostmgr_V1_AppLaunch, preferring groupHosts: [String]) async throws
        -> [HostStore.Host]
    {
        let (hosts, loads) = try await ServiceSupport.store {
            (try await self.store.all(), try await self.placements.hostLoads())
        }
        return
            hosts.filter { host in
                let load = loads[host.hostID] ?? PlacementStore.HostLoad()
                return host.state == "up" && host.holds(appID: app.appId, versionID: app.versionId)
                    && host.gpuScore >= Int64(app.minGpuScore) && load.sessions < host.slots
                    && host.cpuUnits - load.cpuUnits >= Int64(app.cpuUnits)
                    && host.memoryMiB - load.memoryMiB >= Int64(app.memoryMib)
            }
            .sorted { lhs, rhs in
                let leftGroup = groupHosts.contains(lhs.hostID)
                let rightGroup = groupHosts.contains(rhs.hostID)
                if leftGroup != rightGroup { return leftGroup }
                let leftFree = lhs.slots - (loads[lhs.hostID]?.sessions ?? 0)
                let rightFree = rhs.slots - (loads[rhs.hostID]?.sessions ?? 0)
                if leftFree != rightFree { return leftFree > rightFree }
                return lhs.hostID < rhs.hostID
            }
    }

    /// Whether some host here that is up has a free slot, or a peer reported one.
    func hasRoomHereOrAtPeers() async throws -> Bool {
        if self.peerCapacity.all.values.contains(where: { $0.freeSlots > 0 }) { return true }
        return try await ServiceSupport.store { try await self.placements.someHostHasAFreeSlot() }
    }

    /// Asks the peer of `datacentre` to place the session; `nil` (logged) when it cannot.
    func forward(
        _ session: Skyport_Hostmgr_V1_ClaimSessionResponse, to datacentre: String, reason: String
    ) async -> Skyport_Hostmgr_V1_SessionPlacement? {
        do {
            guard let peer = try self.links.peer(datacentre) else { return nil }
            var request = Skyport_Hostmgr_V1_PlaceSessionRequest()
            request.session = session
            request.fromDatacentre = self.datacentre
            var placed = try await peer.placeSession(request, options: CallOptions(timeout: .seconds(20)))
            placed.reason = "\(reason); there: \(placed.reason)"
            self.metrics.count("skyport_hostmgr_placements_total", [("reason", "peer")])
            return placed
        } catch {
            self.logger.warning(
                "placing at a peer failed",
                metadata: ["session.id": "\(session.sessionId)", "peer": "\(datacentre)", "error": "\(error)"])
            self.peerCapacity.forget(datacentre)
            return nil
        }
    }

    /// Records a version seen in a session when it is not known yet, so the buffer pool and rollouts know
    /// it (once per process; a deployment's newer details are never overwritten by an older session's).
    func remember(_ app: Skyport_Hostmgr_V1_AppLaunch) async throws {
        guard self.knownVersions.insert("\(app.appId)/\(app.versionId)") else { return }
        try await ServiceSupport.store {
            try await self.catalog.insertIfAbsent(app, now: ServiceSupport.nowUnixMilliseconds())
        }
    }

    /// The stream host's view of an application version.
    static func spec(_ app: Skyport_Hostmgr_V1_AppLaunch) -> Skyport_Streamhost_V1_AppSpec {
        var spec = Skyport_Streamhost_V1_AppSpec()
        spec.appId = app.appId
        spec.versionId = app.versionId
        spec.developerId = app.developerId
        spec.launchCommand = app.launchCommand
        spec.cpuUnits = app.cpuUnits
        spec.memoryMib = app.memoryMib
        spec.minGpuScore = app.minGpuScore
        spec.sessionsPerInstance = app.sessionsPerInstance
        return spec
    }

    /// Runs a call to another service: its status passes through when it is one a caller can act on;
    /// transport failures become UNAVAILABLE naming `what`.
    static func passingStatus<T>(of what: String, _ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .unavailable, message: "\(what) failed: \(error)")
        }
    }
}
