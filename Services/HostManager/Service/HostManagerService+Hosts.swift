public import SkyportProto
public import SkyportRPC
import SkyportService
import SkyportStorage

/// Heartbeats, events, reconciliation, capacity and users' saved state.
extension HostManagerService {
    /// Records a heartbeat. When the host's report disagrees with the store, host management asks the
    /// host for its actual state (ListInstances) and corrects the store.
    public func heartbeat(
        _ request: Skyport_Hostmgr_V1_HeartbeatRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_HeartbeatResponse {
        try ServiceSupport.requireName(request.hostId, field: "host_id")
        guard request.instances.count <= 10_000 else {
            throw RPCError(code: .invalidArgument, message: "at most 10000 instances per heartbeat")
        }
        let now = ServiceSupport.nowUnixMilliseconds()
        guard try await ServiceSupport.store({ try await self.store.recordHeartbeat(hostID: request.hostId, at: now) })
        else {
            throw RPCError(code: .notFound, message: "host \(request.hostId) is not registered; register first")
        }
        var response = Skyport_Hostmgr_V1_HeartbeatResponse()
        response.intervalMs = UInt32(clamping: self.settings.heartbeatInterval.wholeMilliseconds)
        let (instances, placements) = try await ServiceSupport.store {
            (
                try await self.placements.liveInstances(hostID: request.hostId),
                try await self.placements.livePlacements(hostID: request.hostId)
            )
        }
        let found = Self.disagreement(
            report: request.instances, instances: instances, placements: placements,
            since: now - Self.snapshotMarginMilliseconds)
        // A session the host no longer reports is usually one whose end event is still on its way, so it
        // counts only when the previous heartbeat missed it too.
        let stillMissing = self.missingSessions.replace(host: request.hostId, with: found.missingSessions)
        if found.immediate || !stillMissing.isEmpty {
            response.reconciled = try await self.reconcile(hostID: request.hostId, missedTwice: stillMissing)
        }
        return response
    }

    /// How old a change must be to count against a host's report: a younger one may postdate its snapshot.
    static let snapshotMarginMilliseconds: Int64 = 5_000

    /// How a heartbeat's report differs from the store, ignoring what changed in the last seconds (a
    /// placement recorded after the host took its snapshot): `immediate` for an instance the host does
    /// not report, a seat count it contradicts, or anything it runs that the store lacks; and the stored
    /// sessions it does not report.
    static func disagreement(
        report: [Skyport_Hostmgr_V1_InstanceReport], instances: [PlacementStore.Instance],
        placements: [PlacementStore.Placement], since recent: Int64
    ) -> (immediate: Bool, missingSessions: Set<String>) {
        let reported = Dictionary(
            report.map { ($0.instanceId, Set($0.sessionIds)) }, uniquingKeysWith: { $0.union($1) })
        let recentlyPlaced = Set(placements.filter { $0.placedAtMilliseconds >= recent }.map(\.instanceID))
        var immediate = false
        for instance in instances where instance.startedAtMilliseconds < recent {
            guard let sessions = reported[instance.instanceID] else {
                immediate = true
                break
            }
            // Seat counts too, unless a placement on it is too young to be in the host's snapshot.
            if !recentlyPlaced.contains(instance.instanceID), Int64(sessions.count) != instance.sessions {
                immediate = true
                break
            }
        }
        let stored = Set(instances.map(\.instanceID))
        let storedSessions = Set(placements.map(\.sessionID))
        for (instanceID, sessions) in reported where !immediate {
            if !stored.contains(instanceID) || !sessions.isSubset(of: storedSessions) { immediate = true }
        }
        var missing: Set<String> = []
        for placement in placements where placement.placedAtMilliseconds < recent {
            if reported[placement.instanceID]?.contains(placement.sessionID) != true {
                missing.insert(placement.sessionID)
            }
        }
        return (immediate, missing)
    }

    /// Corrects the store from the host's actual state: instances the host does not run end, and so do
    /// the sessions on them and the sessions in `missedTwice` that it does not run either (reason "not on
    /// host"; a session missed by one heartbeat only is left to its end event); instances it runs that
    /// the store lacks are added; seat counts follow the host. Counted in
    /// `skyport_hostmgr_reconciliations_total`. True when something changed.
    func reconcile(hostID: String, missedTwice: Set<String>) async throws -> Bool {
        guard let host = try await ServiceSupport.store({ try await self.store.host(hostID) }) else { return false }
        let actual = try await Self.passingStatus(of: "asking \(hostID) for its state") {
            try await self.links.streamHost(at: host.address).listInstances(
                Skyport_Streamhost_V1_ListInstancesRequest(), options: CallOptions(timeout: .seconds(5)))
        }
        let now = ServiceSupport.nowUnixMilliseconds()
        let recent = now - Self.snapshotMarginMilliseconds
        // Sessions the host does not run end first, a few per transaction: a correction under load (when
        // the host's end events trail its heartbeat) may end hundreds, and one long transaction would hold
        // the SQLite writer that placements wait for.
        let runningSessions = Set(actual.instances.flatMap(\.sessionIds))
        let runningInstances = Set(actual.instances.map(\.instanceId))
        let live = try await ServiceSupport.store { try await self.placements.livePlacements(hostID: hostID) }
        let gone = live.filter {
            $0.placedAtMilliseconds < recent && !runningSessions.contains($0.sessionID)
                && (missedTwice.contains($0.sessionID) || !runningInstances.contains($0.instanceID))
        }
        var endedSessions = 0
        for start in stride(from: 0, to: gone.count, by: Self.eventsPerTransaction) {
            let chunk = gone[start..<min(start + Self.eventsPerTransaction, gone.count)]
            endedSessions += try await ServiceSupport.store {
                try await self.placements.database.write { tx in
                    var ended = 0
                    for placement in chunk
                    where try await Self.endSession(
                        placement.sessionID, hostID: hostID, at: now, reason: "not on host", recordedAt: now, in: tx)
                    {
                        ended += 1
                    }
                    return ended
                }
            }
        }
        let (changes, returned) = try await ServiceSupport.store {
            try await self.placements.database.write { tx in
                var changes = endedSessions
                var returned: [PlacementStore.Instance] = []
                let running = Dictionary(
                    actual.instances.map { ($0.instanceId, $0) }, uniquingKeysWith: { first, _ in first })
                // Instances with a placement younger than the host's snapshot may have seats taken that the
                // host has not seen yet: their seat counts are left alone (the placements' own ends keep them
                // right), so a correction under load never frees a seat that is in use. Read in this
                // transaction, so a seat taken since the placements above were read counts too.
                let recentlyPlaced = Set(
                    try await tx.query(
                        """
                        SELECT instance_id FROM placements
                        WHERE host_id = ? AND placed_at_ms >= ? AND state IN \(PlacementStore.livePlacementStates)
                        """, [hostID, recent]
                    ).map { try $0.decode(String.self, "instance_id") })
                for row in try await tx.query(
                    "SELECT \(PlacementStore.instanceColumns) FROM instances i WHERE host_id = ? AND state IN \(PlacementStore.liveInstanceStates)",
                    [hostID])
                {
                    let instance = try PlacementStore.instance(row)
                    if let report = running[instance.instanceID] {
                        if recentlyPlaced.contains(instance.instanceID) { continue }
                        let sessions = Int64(report.sessionIds.count)
                        let state = Self.storeState(report.state, sessions: sessions)
                        if sessions != instance.sessions || state != instance.state {
                            try await tx.execute(
                                """
                                UPDATE instances SET sessions = ?, state = ?
                                WHERE instance_id = ? AND state IN \(PlacementStore.liveInstanceStates)
                                """, [sessions, state, instance.instanceID])
                            changes += 1
                        }
                    } else if instance.startedAtMilliseconds < recent {
                        if try await Self.endInstance(
                            instance.instanceID, at: now, state: "ended", reason: "not on host", in: tx) != nil
                        {
                            changes += 1
                        }
                    }
                }
                for report in actual.instances {
                    let known = try await tx.queryFirst(
                        "SELECT \(PlacementStore.instanceColumns) FROM instances i WHERE instance_id = ?",
                        [report.instanceId]
                    ).map(PlacementStore.instance)
                    if let known {
                        // Declared lost (its sessions ended, usage closed) but still running: it is stopped.
                        if known.state == "lost" { returned.append(known) }
                        continue
                    }
                    let launch = try await AppCatalogStore.version(
                        appID: report.appId, versionID: report.versionId, in: tx)
                    let sessions = Int64(report.sessionIds.count)
                    try await PlacementStore.upsertInstance(
                        PlacementStore.Instance(
                            instanceID: report.instanceId, hostID: hostID, appID: report.appId,
                            versionID: report.versionId,
                            seats: Int64(max(report.seats, 1)), sessions: sessions,
                            cpuUnits: Int64(launch?.cpuUnits ?? 0),
                            memoryMiB: Int64(launch?.memoryMib ?? 0),
                            state: Self.storeState(report.state, sessions: sessions),
                            startedAtMilliseconds: report.startedAtUnixMs == 0 ? now : report.startedAtUnixMs),
                        in: tx)
                    changes += 1
                }
                return (changes, returned)
            }
        }
        for instance in returned {
            _ = await self.stop(instance, terminate: true, noticeSeconds: 10)
        }
        if changes > 0 {
            self.metrics.count("skyport_hostmgr_reconciliations_total")
            self.logger.warning(
                "corrected the store from a host's actual state",
                metadata: ["host.id": "\(hostID)", "changes": "\(changes)"])
        }
        return changes > 0
    }

    /// The store's instance state for a state a host reports.
    static func storeState(_ reported: String, sessions: Int64) -> String {
        switch reported {
        case "draining", "stopping": return "draining"
        default: return sessions > 0 ? "active" : "idle"
        }
    }

    /// Records a host's events, each once (by event id), with their usage records in the same transaction.
    /// A session's saved state is kept with its event when its home is this data centre; when the home is
    /// a peer it goes there first, and when that fails the call fails and the host delivers the events
    /// again later.
    public func reportEvents(
        _ request: Skyport_Hostmgr_V1_ReportEventsRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ReportEventsResponse {
        try ServiceSupport.requireName(request.hostId, field: "host_id")
        guard request.events.count <= 500 else {
            throw RPCError(code: .invalidArgument, message: "at most 500 events per call")
        }
        for event in request.events {
            try ServiceSupport.requireText(event.eventId, field: "event_id", maxLength: 128)
            guard event.savedState.count <= SessionStateStore.maximumBytes else {
                throw RPCError(
                    code: .invalidArgument, message: "saved_state of event \(event.eventId) is larger than 1 MiB")
            }
        }
        var accepted: UInt32 = 0
        for start in stride(from: 0, to: request.events.count, by: Self.eventsPerTransaction) {
            let end = min(start + Self.eventsPerTransaction, request.events.count)
            accepted += try await self.record(request.events[start..<end], from: request.hostId)
        }
        var response = Skyport_Hostmgr_V1_ReportEventsResponse()
        response.accepted = accepted
        return response
    }

    /// How many events one write transaction records: enough to share its cost, few enough that it holds
    /// the SQLite writer (which placements wait for) only for milliseconds.
    static let eventsPerTransaction = 50

    /// Records `events` in one transaction; how many were new (a repeat changes nothing, saved state
    /// included). A failure rolls all of them back, and the host sends them again.
    ///
    /// Saved state whose home is this data centre is kept in that same transaction. State whose home is a
    /// peer is sent there first, so that a failure to reach the home fails the report and the host retries.
    func record(_ events: ArraySlice<Skyport_Hostmgr_V1_HostEvent>, from hostID: String) async throws -> UInt32 {
        let now = ServiceSupport.nowUnixMilliseconds()
        let withState = events.filter { $0.kind == .sessionEnded && $0.stateSaved }
        // One read for all of them: a report carries many endings under load.
        let placed = try await ServiceSupport.store {
            try await self.placements.placements(sessionIDs: withState.map(\.sessionId))
        }
        var keptHere: [String: PlacementStore.Placement] = [:]
        for event in withState {
            guard let placement = placed[event.sessionId], placement.hostID == hostID else { continue }
            if placement.homeDatacentre == self.datacentre {
                keptHere[event.eventId] = placement
                continue
            }
            // A repeat is recognised here: its bytes must not replace the state, nor its home be asked again.
            let repeated = try await ServiceSupport.store {
                try await self.placements.database.query(
                    "SELECT event_id FROM host_events WHERE host_id = ? AND event_id = ?", [hostID, event.eventId])
            }
            guard repeated.isEmpty else { continue }
            try await self.sendSavedState(
                of: event, placement: placement, at: event.atUnixMs == 0 ? now : event.atUnixMs)
        }
        return try await ServiceSupport.store {
            try await self.placements.database.write { tx in
                var recorded: UInt32 = 0
                for event in events
                where try await Self.record(
                    event, from: hostID, now: now, keepingStateOf: keptHere[event.eventId], in: tx)
                {
                    recorded += 1
                }
                return recorded
            }
        }
    }

    /// Records one event inside `tx`; false when it was recorded before.
    /// `placement` set: the event carries saved state to keep here, for that placement's user.
    static func record(
        _ event: Skyport_Hostmgr_V1_HostEvent, from hostID: String, now: Int64,
        keepingStateOf placement: PlacementStore.Placement?, in tx: Transaction
    ) async throws -> Bool {
        let at = event.atUnixMs == 0 ? now : event.atUnixMs
        let fresh = try await tx.execute(
            """
            INSERT INTO host_events (host_id, event_id, received_at_ms) VALUES (?, ?, ?)
            ON CONFLICT (host_id, event_id) DO NOTHING
            """, [hostID, event.eventId, now])
        guard fresh == 1 else { return false }
        switch event.kind {
        case .instanceStarted:
            let launch = try await AppCatalogStore.version(
                appID: event.appId, versionID: event.versionId, in: tx)
            try await PlacementStore.insertIfAbsent(
                PlacementStore.Instance(
                    instanceID: event.instanceId, hostID: hostID, appID: event.appId, versionID: event.versionId,
                    seats: Int64(max(launch?.sessionsPerInstance ?? 1, 1)), sessions: 0,
                    cpuUnits: Int64(launch?.cpuUnits ?? 0), memoryMiB: Int64(launch?.memoryMib ?? 0), state: "idle",
                    startedAtMilliseconds: at),
                in: tx)
        case .instanceEnded:
            _ = try await Self.endInstance(
                event.instanceId, hostID: hostID, at: at, state: "ended", reason: event.reason, in: tx)
        case .sessionConnected:
            _ = try await PlacementStore.markConnected(
                sessionID: event.sessionId, hostID: hostID, at: at, in: tx)
        case .sessionEnded:
            if let placement {
                try await SessionStateStore.save(
                    appID: placement.appID, userID: placement.userID, state: event.savedState,
                    sessionID: placement.sessionID, at: at, in: tx)
            }
            _ = try await Self.endSession(
                event.sessionId, hostID: hostID, at: at, reason: event.reason, recordedAt: now, in: tx)
        case .unspecified, .unrecognized:
            break
        }
        return true
    }

    /// Sends a session's saved state to its home data centre, a peer.
    func sendSavedState(
        of event: Skyport_Hostmgr_V1_HostEvent, placement: PlacementStore.Placement, at time: Int64
    ) async throws {
        guard let home = try self.links.peer(placement.homeDatacentre) else {
            self.logger.error(
                "saved state dropped: the home data centre is not a known peer",
                metadata: ["session.id": "\(placement.sessionID)", "home": "\(placement.homeDatacentre)"])
            return
        }
        var save = Skyport_Hostmgr_V1_SaveSessionStateRequest()
        save.appId = placement.appID
        save.userId = placement.userID
        save.state = event.savedState
        save.sessionId = placement.sessionID
        save.savedAtUnixMs = time
        _ = try await Self.passingStatus(of: "saving state at \(placement.homeDatacentre)") {
            try await home.saveSessionState(save, options: CallOptions(timeout: .seconds(5)))
        }
    }

    /// Keeps a user's saved state here, at the application's home.
    public func saveSessionState(
        _ request: Skyport_Hostmgr_V1_SaveSessionStateRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_SaveSessionStateResponse {
        try ServiceSupport.requireText(request.appId, field: "app_id", maxLength: 64)
        try ServiceSupport.requireText(request.userId, field: "user_id", maxLength: 128)
        try ServiceSupport.requireText(request.sessionId, field: "session_id", maxLength: 64)
        guard request.state.count <= SessionStateStore.maximumBytes else {
            throw RPCError(code: .invalidArgument, message: "state is larger than 1 MiB")
        }
        try await ServiceSupport.store {
            try await self.states.save(
                appID: request.appId, userID: request.userId, state: request.state, sessionID: request.sessionId,
                at: request.savedAtUnixMs == 0 ? ServiceSupport.nowUnixMilliseconds() : request.savedAtUnixMs)
        }
        return Skyport_Hostmgr_V1_SaveSessionStateResponse()
    }

    /// This data centre's spare capacity and active groups.
    public func getCapacity(
        _ request: Skyport_Hostmgr_V1_GetCapacityRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_CapacitySummary {
        try await self.capacity()
    }

    /// Computes the capacity summary from the store.
    func capacity() async throws -> Skyport_Hostmgr_V1_CapacitySummary {
        let (hosts, loads, instances, groups) = try await ServiceSupport.store {
            (
                try await self.store.all(), try await self.placements.hostLoads(),
                try await self.placements.liveInstances(), try await self.placements.activeGroups()
            )
        }
        var summary = Skyport_Hostmgr_V1_CapacitySummary()
        summary.datacentre = self.datacentre
        for host in hosts where host.state == "up" {
            let load = loads[host.hostID] ?? PlacementStore.HostLoad()
            summary.hostsUp += 1
            summary.totalSlots += UInt32(clamping: host.slots)
            summary.freeSlots += UInt32(clamping: max(0, host.slots - load.sessions))
            summary.freeCpuUnits += UInt64(max(0, host.cpuUnits - load.cpuUnits))
            summary.freeMemoryMib += UInt64(max(0, host.memoryMiB - load.memoryMiB))
            summary.maxGpuScore = max(summary.maxGpuScore, UInt32(clamping: host.gpuScore))
            summary.activeSessions += UInt32(clamping: load.sessions)
        }
        summary.warmInstances = UInt32(clamping: instances.filter { $0.state == "idle" }.count)
        summary.activeGroups = groups
        summary.computedAtUnixMs = ServiceSupport.nowUnixMilliseconds()
        return summary
    }

    /// The newest sessions placed here.
    public func listSessions(
        _ request: Skyport_Hostmgr_V1_ListSessionsRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ListSessionsResponse {
        var response = Skyport_Hostmgr_V1_ListSessionsResponse()
        response.sessions = try await ServiceSupport.store { try await self.placements.recentPlacements() }.map {
            placement, endedAt, reason in
            var info = Skyport_Hostmgr_V1_SessionInfo()
            info.sessionId = placement.sessionID
            info.appId = placement.appID
            info.userId = placement.userID
            info.groupId = placement.groupID
            info.state = placement.state
            info.hostId = placement.hostID
            info.instanceId = placement.instanceID
            info.versionId = placement.versionID
            info.createdAtUnixMs = placement.placedAtMilliseconds
            info.endedAtUnixMs = endedAt ?? 0
            info.endReason = reason
            return info
        }
        return response
    }

    /// Ends a live session on `hostID` at `time` inside `tx`, with its usage record (created at
    /// `recordedAt`); false when it was not live there.
    static func endSession(
        _ sessionID: String, hostID: String, at time: Int64, reason: String, recordedAt: Int64, in tx: Transaction
    ) async throws -> Bool {
        guard
            let placement = try await PlacementStore.endPlacement(
                sessionID: sessionID, hostID: hostID, at: time, state: "ended", reason: reason, in: tx)
        else { return false }
        try await UsageOutbox.append(Self.usage(placement, endedAt: time), at: recordedAt, in: tx)
        return true
    }

    /// The usage record of a session that ended at `endedAt`.
    static func usage(_ placement: PlacementStore.Placement, endedAt: Int64) -> UsageOutbox.Record {
        UsageOutbox.Record(
            recordID: "session:\(placement.sessionID)", kind: "session", developerID: placement.developerID,
            appID: placement.appID, versionID: placement.versionID, subjectID: placement.sessionID,
            startedAtMilliseconds: placement.connectedAtMilliseconds ?? placement.placedAtMilliseconds,
            endedAtMilliseconds: endedAt)
    }

    /// Ends a live instance (of `hostID`, when given) and the sessions on it inside `tx`, with the usage
    /// records of all of them (the instance's developer from the catalogue); the sessions ended, `nil`
    /// when the instance was not live there.
    static func endInstance(
        _ instanceID: String, hostID: String? = nil, at time: Int64, state: String, reason: String, in tx: Transaction
    ) async throws -> [PlacementStore.Placement]? {
        guard
            let (instance, placements) = try await PlacementStore.endInstance(
                instanceID: instanceID, hostID: hostID, at: time, state: state, reason: reason, in: tx)
        else { return nil }
        let developer =
            try await AppCatalogStore.version(appID: instance.appID, versionID: instance.versionID, in: tx)?
            .developerId ?? ""
        try await UsageOutbox.append(
            UsageOutbox.Record(
                recordID: "instance:\(instance.instanceID)", kind: "instance", developerID: developer,
                appID: instance.appID, versionID: instance.versionID, subjectID: instance.instanceID,
                startedAtMilliseconds: instance.startedAtMilliseconds, endedAtMilliseconds: time),
            at: time, in: tx)
        for placement in placements {
            try await UsageOutbox.append(Self.usage(placement, endedAt: time), at: time, in: tx)
        }
        return placements
    }
}
