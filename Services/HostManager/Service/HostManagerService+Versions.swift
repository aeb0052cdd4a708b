public import SkyportProto
public import SkyportRPC
import SkyportService

/// Application versions, rollouts and the buffer pool.
extension HostManagerService {
    /// Records a version. Once it is released it takes every new session; the maintenance loop drains
    /// instances of older versions. With `force`, those instances are terminated now after a notice
    /// (their applications save each user's state), and the pool is refilled with the new version.
    public func deployVersion(
        _ request: Skyport_Hostmgr_V1_DeployVersionRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_DeployVersionResponse {
        guard let app = request.app else { throw RPCError(code: .invalidArgument, message: "app is required") }
        try Self.validate(app, field: "app")
        guard request.noticeSeconds <= 300 else {
            throw RPCError(code: .invalidArgument, message: "notice_seconds must be 0 to 300")
        }
        let now = ServiceSupport.nowUnixMilliseconds()
        _ = try await ServiceSupport.store { try await self.catalog.upsert(app, now: now) }
        self.knownVersions.insert("\(app.appId)/\(app.versionId)")
        var response = Skyport_Hostmgr_V1_DeployVersionResponse()
        guard app.releaseAtUnixMs <= now else { return response }
        try await ServiceSupport.store {
            try await self.catalog.moveTargets(appID: app.appId, to: app.versionId)
        }
        let older = try await ServiceSupport.store { try await self.placements.liveInstances() }.filter {
            $0.appID == app.appId && $0.versionID != app.versionId
                && ["idle", "active", "draining"].contains($0.state)
        }
        let notice = request.noticeSeconds == 0 ? 10 : request.noticeSeconds
        for instance in older {
            let stopped = await self.stop(instance, terminate: request.force, noticeSeconds: notice)
            if stopped {
                response.instancesAffected += 1
                if request.force { response.sessionsNoticed += UInt32(clamping: instance.sessions) }
            }
        }
        self.logger.info(
            "version deployed",
            metadata: [
                "app.id": "\(app.appId)", "version": "\(app.versionId)", "force": "\(request.force)",
                "instances": "\(response.instancesAffected)",
            ])
        self.maintenance.wake()
        return response
    }

    /// Asks the instance's host to drain it (or terminate it after a notice) and marks it draining;
    /// false (logged) when the host could not be asked.
    func stop(_ instance: PlacementStore.Instance, terminate: Bool, noticeSeconds: UInt32) async -> Bool {
        do {
            guard let host = try await self.store.host(instance.hostID) else { return false }
            var request = Skyport_Streamhost_V1_StopInstanceRequest()
            request.instanceId = instance.instanceID
            request.terminate = terminate
            request.noticeSeconds = noticeSeconds
            _ = try await self.links.streamHost(at: host.address).stopInstance(
                request, options: CallOptions(timeout: .seconds(5)))
            try await self.placements.markDraining([instance.instanceID])
            self.metrics.count("skyport_hostmgr_drained_instances_total", [("mode", terminate ? "force" : "drain")])
            return true
        } catch let error as RPCError where error.code == .notFound {
            // The host no longer runs it; its end event or the next heartbeat settles the store.
            return false
        } catch {
            self.logger.warning(
                "stopping an instance failed",
                metadata: [
                    "instance.id": "\(instance.instanceID)", "host.id": "\(instance.hostID)", "error": "\(error)",
                ])
            return false
        }
    }

    /// Sets the number of warm idle instances of a known version this data centre keeps (0 to 64).
    public func setBufferTarget(
        _ request: Skyport_Hostmgr_V1_BufferTarget, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_BufferTarget {
        try ServiceSupport.requireText(request.appId, field: "app_id", maxLength: 64)
        try ServiceSupport.requireText(request.versionId, field: "version_id", maxLength: 64)
        guard request.target <= 64 else { throw RPCError(code: .invalidArgument, message: "target must be 0 to 64") }
        guard
            try await ServiceSupport.store({
                try await self.catalog.version(appID: request.appId, versionID: request.versionId)
            }) != nil
        else {
            throw RPCError(
                code: .failedPrecondition,
                message: "\(request.appId) \(request.versionId) is not deployed in \(self.datacentre)")
        }
        try await ServiceSupport.store {
            try await self.catalog.setTarget(
                AppCatalogStore.Target(
                    appID: request.appId, versionID: request.versionId, target: Int64(request.target)))
        }
        self.maintenance.wake()
        var response = request
        response.warm = try await self.warmCounts()[request.appId + "/" + request.versionId] ?? 0
        return response
    }

    /// The buffer targets with the warm instances there are now.
    public func listBufferTargets(
        _ request: Skyport_Hostmgr_V1_ListBufferTargetsRequest, context: ServerContext
    ) async throws -> Skyport_Hostmgr_V1_ListBufferTargetsResponse {
        let warm = try await self.warmCounts()
        var response = Skyport_Hostmgr_V1_ListBufferTargetsResponse()
        response.targets = try await ServiceSupport.store { try await self.catalog.targets() }.map { target in
            var message = Skyport_Hostmgr_V1_BufferTarget()
            message.appId = target.appID
            message.versionId = target.versionID
            message.target = UInt32(clamping: target.target)
            message.warm = warm[target.appID + "/" + target.versionID] ?? 0
            return message
        }
        return response
    }

    /// Warm idle instances by `app/version`.
    func warmCounts() async throws -> [String: UInt32] {
        var counts: [String: UInt32] = [:]
        for instance in try await ServiceSupport.store({ try await self.placements.liveInstances() })
        where instance.state == "idle" {
            counts[instance.appID + "/" + instance.versionID, default: 0] += 1
        }
        return counts
    }
}
