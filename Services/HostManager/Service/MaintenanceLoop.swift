import Logging
import ServiceLifecycle
import SkyportProto
import SkyportRPC
import SkyportService

/// Host management's periodic work, every `tick` or sooner when its ``MaintenanceSignal`` is raised:
/// 1. hosts silent for 3 heartbeat intervals are lost: their instances and sessions are marked lost
///    (with usage records) and counted;
/// 2. instances of versions older than their application's current version drain;
/// 3. the buffer pool: per (application, version) target, warm idle instances are started where too few
///    run, and idle instances above the target (or of versions without one) are drained.
///
/// Beside it, every ``purgeInterval``, it deletes the sessions whose token expired more than an hour ago
/// (``purgeExpiredSessions(now:chunk:limit:)``).
struct MaintenanceLoop: Service {
    let service: HostManagerService
    let tick: Duration
    /// How long a session is kept after its token expired (far beyond the clock skew a claim allows).
    static let expiredSessionRetention = Duration.seconds(3600)
    /// How often expired sessions are deleted.
    static let purgeInterval = Duration.seconds(5)
    /// Sessions deleted per transaction: 50 keep the writer ~1 ms (each row touches a leaf of both random
    /// unique indexes; 1,000 held it ~40 ms on a million-row table).
    static let purgeChunk = 50
    /// The most deleted per purge (1,000 a second, above the rate starts are made); the rest go next time.
    static let purgeLimit = 5_000

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.purgeUntilShutdown() }
            var lastPass = ContinuousClock.now - self.tick
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if self.service.maintenance.takeWake() || ContinuousClock.now - lastPass >= self.tick {
                    lastPass = .now
                    await self.pass()
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
            }
            group.cancelAll()
        }
    }

    /// Purges expired sessions every ``purgeInterval`` until shutdown; failures are logged and retried.
    private func purgeUntilShutdown() async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.purgeInterval) }
                _ = try await self.purgeExpiredSessions(now: ServiceSupport.nowUnixMilliseconds())
            } catch is CancellationError {
                return
            } catch {
                self.service.logger.warning("purging expired sessions failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// One pass; failures are logged and retried on the next.
    func pass() async {
        do {
            try await self.loseSilentHosts()
            let current = try await self.service.catalog.currentVersions(now: ServiceSupport.nowUnixMilliseconds())
            try await self.drainOlderVersions(current: current)
            try await self.balanceBufferPool(current: current)
        } catch {
            self.service.logger.warning("maintenance pass failed", metadata: ["error": "\(error)"])
        }
    }

    /// Deletes sessions whose token expired more than ``expiredSessionRetention`` before `now`, `chunk`
    /// per transaction (other writes get in between) and at most about `limit` (the rest go next time);
    /// returns how many. Each chunk is counted as it goes.
    func purgeExpiredSessions(now: Int64, chunk: Int = purgeChunk, limit: Int = purgeLimit) async throws -> Int {
        let before = now - Self.expiredSessionRetention.wholeMilliseconds
        var purged = 0
        while purged < limit {
            let deleted = try await self.service.sessions.purgeExpired(before: before, limit: chunk)
            purged += deleted
            if deleted > 0 { self.service.metrics.count("skyport_hostmgr_sessions_purged_total", by: deleted) }
            if deleted < chunk { break }
            await Task.yield()
        }
        if purged > 0 {
            self.service.logger.debug("expired sessions deleted", metadata: ["sessions": "\(purged)"])
        }
        return purged
    }

    func loseSilentHosts() async throws {
        let now = ServiceSupport.nowUnixMilliseconds()
        let silentSince = now - 3 * self.service.settings.heartbeatInterval.wholeMilliseconds
        for hostID in try await self.service.store.markLost(silentSince: silentSince) {
            let lostSessions = try await self.service.placements.database.write { tx in
                var sessions = 0
                for row in try await tx.query(
                    "SELECT \(PlacementStore.instanceColumns) FROM instances i WHERE host_id = ? AND state IN \(PlacementStore.liveInstanceStates)",
                    [hostID])
                {
                    let instance = try PlacementStore.instance(row)
                    sessions +=
                        try await HostManagerService.endInstance(
                            instance.instanceID, at: now, state: "lost", reason: "host lost", in: tx)?.count ?? 0
                }
                return sessions
            }
            self.service.metrics.count("skyport_hostmgr_hosts_lost_total")
            self.service.metrics.count("skyport_hostmgr_sessions_lost_total", by: lostSessions)
            self.service.logger.warning(
                "host lost: no heartbeat for 3 intervals",
                metadata: ["host.id": "\(hostID)", "sessions_lost": "\(lostSessions)"])
        }
    }

    func drainOlderVersions(current: [String: Skyport_Hostmgr_V1_AppLaunch]) async throws {
        for instance in try await self.service.placements.liveInstances()
        where ["idle", "active"].contains(instance.state) {
            guard let latest = current[instance.appID], latest.versionId != instance.versionID else { continue }
            if await self.service.stop(instance, terminate: false, noticeSeconds: 0) {
                self.service.logger.info(
                    "draining an instance of an older version",
                    metadata: [
                        "instance.id": "\(instance.instanceID)", "version": "\(instance.versionID)",
                        "current": "\(latest.versionId)",
                    ])
            }
        }
        for target in try await self.service.catalog.targets() {
            if let latest = current[target.appID], latest.versionId != target.versionID {
                try await self.service.catalog.moveTargets(appID: target.appID, to: latest.versionId)
            }
        }
    }

    func balanceBufferPool(current: [String: Skyport_Hostmgr_V1_AppLaunch]) async throws {
        let targets = try await self.service.catalog.targets()
        let hostsUp = Set(try await self.service.store.all().filter { $0.state == "up" }.map(\.hostID))
        let idle = try await self.service.placements.liveInstances().filter {
            $0.state == "idle" && hostsUp.contains($0.hostID)
        }
        var wanted: [String: Int64] = [:]
        for target in targets { wanted[target.appID + "/" + target.versionID] = target.target }

        // Too many: drain the newest idle instances above the target (every idle one without a target).
        var seen: [String: Int64] = [:]
        for instance in idle.sorted(by: { $0.startedAtMilliseconds < $1.startedAtMilliseconds }) {
            let key = instance.appID + "/" + instance.versionID
            seen[key, default: 0] += 1
            if seen[key, default: 0] > wanted[key, default: 0],
                await self.service.stop(instance, terminate: false, noticeSeconds: 0)
            {
                self.service.metrics.count("skyport_hostmgr_buffer_instances_total", [("action", "stopped")])
            }
        }

        // Too few: start warm instances, a few per pass.
        var started = 0
        for target in targets where started < 4 {
            let key = target.appID + "/" + target.versionID
            var missing = target.target - (seen[key] ?? 0)
            guard missing > 0, let app = current[target.appID], app.versionId == target.versionID else { continue }
            while missing > 0, started < 4 {
                guard let host = try await self.service.launchCandidates(for: app, preferring: []).first else { break }
                do {
                    var request = Skyport_Streamhost_V1_StartInstanceRequest()
                    request.app = HostManagerService.spec(app)
                    let instance = try await self.service.links.streamHost(at: host.address).startInstance(
                        request, options: CallOptions(timeout: .seconds(15)))
                    try await self.service.placements.recordStarted(
                        PlacementStore.Instance(
                            instanceID: instance.instanceId, hostID: host.hostID, appID: app.appId,
                            versionID: app.versionId, seats: Int64(max(instance.seats, 1)), sessions: 0,
                            cpuUnits: Int64(app.cpuUnits), memoryMiB: Int64(app.memoryMib), state: "idle",
                            startedAtMilliseconds: ServiceSupport.nowUnixMilliseconds()))
                    self.service.metrics.count("skyport_hostmgr_buffer_instances_total", [("action", "started")])
                    missing -= 1
                    started += 1
                } catch {
                    self.service.logger.warning(
                        "starting a warm instance failed",
                        metadata: ["host.id": "\(host.hostID)", "app.id": "\(app.appId)", "error": "\(error)"])
                    break
                }
            }
        }
    }
}

/// Fetches every peer's capacity summary each `interval` for placement (a peer that does not answer
/// is forgotten until it does).
struct PeerExchange: Service {
    let service: HostManagerService
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await withTaskGroup(of: Void.self) { group in
                for datacentre in self.service.links.peerDatacentres {
                    group.addTask { await self.refresh(datacentre) }
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }

    func refresh(_ datacentre: String) async {
        do {
            guard let peer = try self.service.links.peer(datacentre) else { return }
            let summary = try await peer.getCapacity(
                Skyport_Hostmgr_V1_GetCapacityRequest(), options: CallOptions(timeout: .seconds(2)))
            guard summary.datacentre == datacentre else {
                self.service.logger.error(
                    "a peer answered for another data centre",
                    metadata: ["peer": "\(datacentre)", "answered": "\(summary.datacentre)"])
                self.service.peerCapacity.forget(datacentre)
                return
            }
            self.service.peerCapacity.update(summary)
        } catch {
            self.service.peerCapacity.forget(datacentre)
            self.service.logger.debug(
                "peer capacity unavailable", metadata: ["peer": "\(datacentre)", "error": "\(error)"])
        }
    }
}
