import Foundation
import SkyportInterop
import SkyportProto
import SkyportRPC
import SkyportService

#if canImport(Glibc)
    import Glibc
#endif

/// What one instance of an app version needs.
struct LaunchProfile: Sendable, Hashable {
    var cpuUnits: Int
    var memoryMiB: Int
    var minGPUScore: Int
    var seats: Int

    /// The app spec's values where host management set them (non-zero), the manifest's otherwise.
    init(spec: Skyport_Streamhost_V1_AppSpec, manifest: PackageManifest.Profile) {
        self.cpuUnits = Int(spec.cpuUnits != 0 ? spec.cpuUnits : manifest.cpuUnits)
        self.memoryMiB = Int(spec.memoryMib != 0 ? spec.memoryMib : manifest.memoryMiB)
        self.minGPUScore = Int(spec.minGpuScore != 0 ? spec.minGpuScore : manifest.minGPUScore)
        self.seats = Int(spec.sessionsPerInstance != 0 ? spec.sessionsPerInstance : manifest.sessionsPerInstance)
    }
}

extension SessionRuntime {
    /// Provisions a session: on the requested instance, on a running instance of the version with a
    /// free seat, or on a newly launched one.
    func provision(_ request: Skyport_Streamhost_V1_ProvisionRequest) async throws(StreamHostError)
        -> Skyport_Streamhost_V1_ProvisionResponse
    {
        let sessionID = try Self.requireName(request.sessionId, field: "session_id")
        let userID: String
        do { userID = try ServiceSupport.requireText(request.userId, field: "user_id") } catch {
            throw .invalidArgument(error.status.message)
        }
        let app = request.app ?? Skyport_Streamhost_V1_AppSpec()
        try Self.checkApp(app)
        guard request.connectWithinSeconds <= 600 else {
            throw .invalidArgument("connect_within_seconds must be 0 (30 s) to 600")
        }
        guard request.priorState.count <= Self.maximumStateBytes else {
            throw .invalidArgument("prior_state is larger than 1 MiB")
        }
        guard self.accepting else { throw .unavailable("the host is shutting down") }
        guard self.sessions[sessionID] == nil, !self.provisioning.contains(sessionID) else {
            throw .alreadyExists("session \(sessionID) is provisioned on this host already")
        }
        let hostID: String
        do { hostID = try await self.hostID() } catch { throw .unavailable("the host has no identity yet") }

        var launched = false
        var joinedStarting = false
        let instanceID: String
        if !request.instanceId.isEmpty {
            instanceID = request.instanceId
            try self.checkSeat(on: instanceID, app: app)
        } else if let shared = self.instanceWithFreeSeat(appID: app.appId, versionID: app.versionId) {
            instanceID = shared
            try self.checkSeat(on: instanceID, app: app)
        } else if let starting = self.startingInstanceWithOpenSeat(appID: app.appId, versionID: app.versionId) {
            // Another session's launch of this version is under way with a seat to spare: wait for it rather
            // than launch one instance per concurrent first session.
            guard self.free.slots >= 1 else {
                throw .resourceExhausted("no free session slot on this host (\(self.settings.capacity.slots) in use)")
            }
            self.usedSlots += 1
            self.provisioning.insert(sessionID)
            self.instances[starting]?.promisedSeats += 1
            defer {
                self.usedSlots -= 1
                self.provisioning.remove(sessionID)
                self.instances[starting]?.promisedSeats -= 1
            }
            try await self.waitUntilReady(starting)
            instanceID = starting
            joinedStarting = true
            try self.checkStillFree(instanceID)
        } else {
            let package = try self.settings.packages.load(appID: app.appId, versionID: app.versionId)
            let profile = LaunchProfile(spec: app, manifest: package.manifest.profile)
            try self.checkFits(profile, app: app, sessions: 1)
            // The session's slot is held while the application starts, so a concurrent provision cannot
            // take it; the session id too, so it cannot be provisioned twice.
            self.usedSlots += 1
            self.provisioning.insert(sessionID)
            defer {
                self.usedSlots -= 1
                self.provisioning.remove(sessionID)
            }
            instanceID = try await self.launch(
                package, profile: profile, singleSessionID: profile.seats == 1 ? sessionID : nil, promisedSeats: 1)
            self.instances[instanceID]?.promisedSeats -= 1
            launched = true
            try self.checkStillFree(instanceID)
        }

        let credential: [UInt8]
        do { credential = try SecureRandom.bytes(count: 32) } catch { throw .unavailable("no randomness: \(error)") }
        let connectWithin = request.connectWithinSeconds == 0 ? 30 : Int64(request.connectWithinSeconds)
        let connectBy = ServiceSupport.nowUnixMilliseconds() + connectWithin * 1000
        let priorState = request.priorState.isEmpty ? nil : request.priorState
        let session = SessionRecord(
            id: sessionID, instanceID: instanceID, appID: app.appId, versionID: app.versionId,
            credentialHash: Digest.sha256(credential), connectBy: connectBy, resumedState: priorState != nil,
            feed: ClientFeed())
        self.sessions[sessionID] = session
        self.instances[instanceID]?.sessionIDs.insert(sessionID)
        self.usedSlots += 1
        self.instances[instanceID]?.channel.send(
            .sessionAttached(sessionID: sessionID, userID: userID, state: priorState))
        self.schedule(after: .milliseconds(connectWithin * 1000)) { [weak self] in
            await self?.connectDeadlinePassed(sessionID: sessionID, connectBy: connectBy)
        }
        self.logger.info(
            "session provisioned",
            metadata: [
                "session.id": "\(sessionID)", "instance.id": "\(instanceID)", "app.id": "\(app.appId)",
                "launched": "\(launched)",
            ])

        var response = Skyport_Streamhost_V1_ProvisionResponse()
        response.sessionCredential = credential
        response.connectByUnixMs = connectBy
        response.instanceId = instanceID
        response.launched = launched
        response.joinedStarting = joinedStarting
        response.hostId = hostID
        return response
    }

    /// Launches a warm idle instance (for the buffer pool).
    func startInstance(_ request: Skyport_Streamhost_V1_StartInstanceRequest) async throws(StreamHostError)
        -> Skyport_Streamhost_V1_Instance
    {
        let app = request.app ?? Skyport_Streamhost_V1_AppSpec()
        try Self.checkApp(app)
        guard self.accepting else { throw .unavailable("the host is shutting down") }
        let package = try self.settings.packages.load(appID: app.appId, versionID: app.versionId)
        let profile = LaunchProfile(spec: app, manifest: package.manifest.profile)
        try self.checkFits(profile, app: app, sessions: 0)
        let id = try await self.launch(package, profile: profile, singleSessionID: nil, promisedSeats: 0)
        guard let instance = self.instances[id] else {
            throw .unavailable("instance \(id) stopped right after it started")
        }
        return Self.describe(instance)
    }

    // MARK: Checks

    /// ``ServiceSupport/requireName(_:field:)``: identifiers become file names and environment values.
    private static func requireName(_ value: String, field: String) throws(StreamHostError) -> String {
        do { return try ServiceSupport.requireName(value, field: field) } catch {
            throw .invalidArgument(error.status.message)
        }
    }

    /// Application and version ids become path components of the package directory.
    private static func checkApp(_ app: Skyport_Streamhost_V1_AppSpec) throws(StreamHostError) {
        guard PackageCatalog.isIdentifier(app.appId), PackageCatalog.isIdentifier(app.versionId) else {
            throw .invalidArgument(
                "app.app_id and app.version_id must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '-' and '_', "
                    + "not starting with '.'")
        }
    }

    /// The session can take a seat on `instanceID`: it runs this app version, takes sessions, has a free
    /// seat, and the host has a free slot.
    private func checkSeat(on instanceID: String, app: Skyport_Streamhost_V1_AppSpec) throws(StreamHostError) {
        guard let instance = self.instances[instanceID] else {
            throw .notFound("instance \(instanceID) is not on this host")
        }
        guard instance.appID == app.appId, instance.versionID == app.versionId else {
            throw .failedPrecondition(
                "instance \(instanceID) runs \(instance.appID)/\(instance.versionID), not \(app.appId)/\(app.versionId)"
            )
        }
        guard instance.phase == .running else {
            throw .failedPrecondition("instance \(instanceID) is \(instance.stateText) and takes no new sessions")
        }
        guard instance.openSeats > 0 else {
            throw .failedPrecondition("instance \(instanceID) has no free seat (\(instance.seats) taken)")
        }
        guard self.free.slots >= 1 else {
            throw .resourceExhausted("no free session slot on this host (\(self.settings.capacity.slots) in use)")
        }
    }

    /// A running instance of the version with an open seat, the fullest first (so sessions share).
    private func instanceWithFreeSeat(appID: String, versionID: String) -> String? {
        self.instances.values
            .filter { $0.appID == appID && $0.versionID == versionID && $0.phase == .running && $0.openSeats > 0 }
            .max { ($0.sessionIDs.count, $1.id) < ($1.sessionIDs.count, $0.id) }?.id
    }

    /// An instance of the version still starting with an open seat (the most promised first).
    private func startingInstanceWithOpenSeat(appID: String, versionID: String) -> String? {
        self.instances.values
            .filter { $0.appID == appID && $0.versionID == versionID && $0.phase == .starting && $0.openSeats > 0 }
            .max { ($0.promisedSeats, $1.id) < ($1.promisedSeats, $0.id) }?.id
    }

    /// Returns once `instanceID` reports ready; throws when its launch fails or times out.
    private func waitUntilReady(_ instanceID: String) async throws(StreamHostError) {
        do {
            try await withCheckedThrowingContinuation { continuation in
                self.instances[instanceID]?.readyWaiters.append(continuation)
            }
        } catch let error as StreamHostError {
            throw error
        } catch {
            throw .unavailable("instance \(instanceID): \(error)")
        }
    }

    /// RESOURCE_EXHAUSTED unless the host's GPU and free slots, CPU and memory carry `profile`.
    private func checkFits(_ profile: LaunchProfile, app: Skyport_Streamhost_V1_AppSpec, sessions: Int)
        throws(StreamHostError)
    {
        let name = "\(app.appId)/\(app.versionId)"
        let capacity = self.settings.capacity
        guard profile.minGPUScore <= capacity.gpuScore else {
            throw .resourceExhausted(
                "\(name) needs a GPU score of \(profile.minGPUScore); this host's is \(capacity.gpuScore)")
        }
        let free = self.free
        guard free.slots >= sessions, free.cpuUnits >= profile.cpuUnits, free.memoryMiB >= profile.memoryMiB else {
            throw .resourceExhausted(
                "\(name) needs \(sessions) session slot(s), \(profile.cpuUnits) CPU units and \(profile.memoryMiB) MiB;"
                    + " this host has \(free.slots) slot(s), \(free.cpuUnits) CPU units and \(free.memoryMiB) MiB free")
        }
    }

    /// After waiting for an instance to start: it may have died or been stopped meanwhile, or (once
    /// running) another provision may have taken its free seat. Never more sessions than seats.
    private func checkStillFree(_ instanceID: String) throws(StreamHostError) {
        guard let instance = self.instances[instanceID], instance.phase == .running,
            instance.sessionIDs.count < instance.seats
        else {
            throw .unavailable("instance \(instanceID) stopped or filled up before the session was attached")
        }
    }

    // MARK: Launching

    /// Starts an instance of `package`, waits for its `ready` (``Settings/launchTimeout``) and returns its
    /// id; its CPU units and memory are held from now until it ends.
    ///
    /// - Parameter promisedSeats: seats held for the caller (which gives them back once it attached).
    /// - Throws: ``StreamHostError/failedPrecondition(_:)`` when it cannot be started,
    ///   ``StreamHostError/unavailable(_:)`` when it exits or stays silent before `ready` (then it is
    ///   killed).
    private func launch(
        _ package: InstalledPackage, profile: LaunchProfile, singleSessionID: String?, promisedSeats: Int
    ) async throws(StreamHostError) -> String {
        let id = ServiceSupport.newIdentifier(prefix: "inst").replacingOccurrences(of: "_", with: "-")
        let directory = "\(self.settings.dataDirectory)/instances/\(id)"
        let stateDirectory = "\(directory)/state"
        let runDirectory = "\(self.settings.dataDirectory)/run"
        let channel: AppChannel
        do {
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(
                atPath: runDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            channel = try AppChannel(path: "\(runDirectory)/\(id).sock")
        } catch {
            throw .unavailable("cannot prepare instance \(id): \(error)")
        }
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
        ]
        environment.merge(package.manifest.environment) { _, manifest in manifest }
        environment["SKYPORT_INSTANCE_ID"] = id
        environment["SKYPORT_APP_ID"] = package.appID
        environment["SKYPORT_VERSION_ID"] = package.versionID
        environment["SKYPORT_STATE_DIR"] = stateDirectory
        environment["SKYPORT_HOST_SOCKET"] = channel.path
        environment["SKYPORT_SESSION_ID"] = singleSessionID
        let process: ChildProcess
        do {
            process = try ChildProcess(
                executable: package.executable, arguments: package.manifest.arguments, environment: environment,
                workingDirectory: package.directory, logFile: "\(directory)/app.log")
        } catch {
            channel.close()
            try? FileManager.default.removeItem(atPath: directory)
            throw .failedPrecondition("package \(package.appID)/\(package.versionID): \(error)")
        }
        self.children.withLock { $0[process.pid] = process }
        self.instances[id] = InstanceRecord(
            id: id, appID: package.appID, versionID: package.versionID, seats: profile.seats,
            cpuUnits: profile.cpuUnits, memoryMiB: profile.memoryMiB, process: process, channel: channel,
            directory: directory, startedAt: ServiceSupport.nowUnixMilliseconds())
        self.instances[id]?.promisedSeats = promisedSeats
        self.usedCPUUnits += profile.cpuUnits
        self.usedMemoryMiB += profile.memoryMiB
        self.logger.info(
            "instance launched",
            metadata: [
                "instance.id": "\(id)", "app.id": "\(package.appID)", "version.id": "\(package.versionID)",
                "pid": "\(process.pid)",
            ])

        // An application saves its sessions' state and exits: the exit must not overtake the last
        // lines, so the exit is handled once the channel has been read to its end (or a moment later,
        // when a grandchild still holds the socket open).
        let channelDrained = Wakeup()
        self.schedule { [weak self] in
            for await event in channel.events { await self?.handle(event, from: id) }
            channelDrained.signal()
            // Usually the application exited; only one that lives on without its socket is stopped.
            if await !process.hasEnded(within: .seconds(1)) { await self?.channelEnded(instanceID: id) }
        }
        self.schedule { [weak self] in
            // Not cancelled before the child is reaped: the runtime ends after its instances.
            guard let termination = await process.termination() else { return }
            await channelDrained.wait(timeout: .seconds(1))
            await self?.instanceExited(instanceID: id, termination: termination)
        }
        self.schedule(after: self.settings.launchTimeout) { [weak self] in await self?.launchTimedOut(instanceID: id) }
        try await self.waitUntilReady(id)
        return id
    }

    private func launchTimedOut(instanceID: String) {
        guard let instance = self.instances[instanceID], instance.phase == .starting else { return }
        self.logger.error(
            "instance did not report ready in time: killing it",
            metadata: ["instance.id": "\(instanceID)", "timeout": "\(self.settings.launchTimeout)"])
        self.failLaunch(
            instanceID: instanceID,
            .unavailable(
                "\(instance.appID)/\(instance.versionID) did not report ready within \(self.settings.launchTimeout)"))
        instance.process.signalGroup(SIGKILL)
    }

    /// Fails whoever waits for the instance's `ready`. A failed launch is on its way out: it takes no
    /// more sessions waiting for it (``startingInstanceWithOpenSeat(appID:versionID:)`` looks for `starting`).
    func failLaunch(instanceID: String, _ error: StreamHostError) {
        guard let waiters = self.instances[instanceID]?.readyWaiters else { return }
        if self.instances[instanceID]?.phase == .starting {
            self.instances[instanceID]?.phase = .stopping(
                deadlineUnixMilliseconds: ServiceSupport.nowUnixMilliseconds())
        }
        self.instances[instanceID]?.readyWaiters = []
        for waiter in waiters { waiter.resume(throwing: error) }
    }
}
