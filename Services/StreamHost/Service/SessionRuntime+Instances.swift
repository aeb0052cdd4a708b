import Foundation
import Logging
import SkyportProto
import SkyportService

#if canImport(Glibc)
    import Glibc
#endif

extension SessionRuntime {
    // MARK: The application's messages

    func handle(_ event: AppChannel.Event, from instanceID: String) {
        guard self.instances[instanceID] != nil else { return }
        switch event {
        case .message(.ready):
            guard self.instances[instanceID]?.phase == .starting, let instance = self.instances[instanceID] else {
                return
            }
            self.instances[instanceID]?.phase = .running
            self.instances[instanceID]?.started = true
            self.record(.instanceStarted, instanceID: instanceID, appID: instance.appID, versionID: instance.versionID)
            self.logger.info("instance ready", metadata: ["instance.id": "\(instanceID)"])
            let waiters = instance.readyWaiters
            self.instances[instanceID]?.readyWaiters = []
            for waiter in waiters { waiter.resume() }
        case .message(.output(let sessionID, let data)):
            guard var session = self.sessions[sessionID], session.instanceID == instanceID else {
                return self.logger.debug(
                    "output for a session the instance does not hold",
                    metadata: ["instance.id": "\(instanceID)", "session.id": "\(sessionID)"])
            }
            if !session.feed.send(.output(data)) {
                session.droppedOutputs += 1
                self.sessions[sessionID] = session
                if session.droppedOutputs == 1 {
                    self.logger.warning(
                        "client does not keep up: outputs dropped",
                        metadata: ["session.id": "\(sessionID)", "buffer": "\(ClientFeed.capacity)"])
                }
            }
        case .message(.stateSaved(let sessionID, let state)):
            guard self.sessions[sessionID]?.instanceID == instanceID else { return }
            guard state.count <= Self.maximumStateBytes else {
                return self.logger.error(
                    "state refused: larger than 1 MiB",
                    metadata: ["session.id": "\(sessionID)", "instance.id": "\(instanceID)", "bytes": "\(state.count)"])
            }
            self.sessions[sessionID]?.savedState = state
            if case .detaching(let reason) = self.sessions[sessionID]?.phase {
                self.endSession(sessionID, reason: reason)
            }
        case .message(.endSession(let sessionID, let reason)):
            guard self.sessions[sessionID]?.instanceID == instanceID else { return }
            self.endSession(sessionID, reason: reason.isEmpty ? "ended by the application" : reason)
        case .badLine(let error):
            self.logger.warning(
                "application sent a line the contract does not know: skipped",
                metadata: ["instance.id": "\(instanceID)", "error": "\(error)"])
        case .lineTooLong:
            self.logger.error(
                "application sent a line over 2 MiB: ending the instance", metadata: ["instance.id": "\(instanceID)"])
            self.instances[instanceID]?.process.signalGroup(SIGKILL)
        }
    }

    /// The application closed its host socket (or broke the contract): without it the instance is
    /// useless, so it is stopped; its exit ends its sessions.
    func channelEnded(instanceID: String) {
        guard let instance = self.instances[instanceID], instance.process.ended == nil else { return }
        if case .stopping = instance.phase { return }
        self.logger.warning(
            "application closed its host socket: stopping the instance", metadata: ["instance.id": "\(instanceID)"])
        self.failLaunch(instanceID: instanceID, .unavailable("instance \(instanceID) closed its host socket"))
        self.scheduleKill(instance.process, at: ServiceSupport.nowUnixMilliseconds())
    }

    /// The process ended: its sessions end (with the state the application saved), its resources are
    /// free, INSTANCE_ENDED is recorded.
    func instanceExited(instanceID: String, termination: ChildProcess.Termination) {
        guard let instance = self.instances.removeValue(forKey: instanceID) else { return }
        _ = self.children.withLock { $0.removeValue(forKey: instance.process.pid) }
        instance.channel.close()
        self.usedCPUUnits -= instance.cpuUnits
        self.usedMemoryMiB -= instance.memoryMiB
        for waiter in instance.readyWaiters {
            waiter.resume(
                throwing: StreamHostError.unavailable(
                    "\(instance.appID)/\(instance.versionID) \(termination) before it was ready"))
        }
        let reason = instance.stopReason ?? termination.description
        for sessionID in instance.sessionIDs { self.endSession(sessionID, reason: reason) }
        if instance.started {
            self.record(
                .instanceEnded, instanceID: instanceID, appID: instance.appID, versionID: instance.versionID,
                reason: instance.stopReason.map { "\($0) (\(termination))" } ?? termination.description)
        }
        var metadata: Logger.Metadata = [
            "instance.id": "\(instanceID)", "app.id": "\(instance.appID)", "exit": "\(termination)",
        ]
        if instance.stopReason == nil && termination != .exited(0) {
            // The application's own last words are what an operator needs to see why.
            metadata["app_log_tail"] = "\(Self.tail(of: "\(instance.directory)/app.log"))"
            self.logger.warning("instance ended unexpectedly", metadata: metadata)
        } else {
            self.logger.info("instance ended", metadata: metadata)
        }
        try? FileManager.default.removeItem(atPath: instance.directory)
        if self.instances.isEmpty {
            let waiters = self.noInstancesWaiters
            self.noInstancesWaiters = []
            for waiter in waiters { waiter.resume() }
        }
    }

    // MARK: Stopping instances

    /// StopInstance: drains, or terminates after a notice.
    func stopInstance(_ request: Skyport_Streamhost_V1_StopInstanceRequest) throws(StreamHostError)
        -> Skyport_Streamhost_V1_Instance
    {
        guard let instance = self.instances[request.instanceId] else {
            throw .notFound("instance \(request.instanceId) is not on this host")
        }
        if request.terminate {
            guard request.noticeSeconds <= 300 else { throw .invalidArgument("notice_seconds must be 0 (10 s) to 300") }
            let notice = Int64(request.noticeSeconds == 0 ? 10 : request.noticeSeconds)
            self.terminate(
                instanceID: instance.id, deadline: ServiceSupport.nowUnixMilliseconds() + notice * 1000,
                reason: "terminated")
        } else {
            self.drain(instanceID: instance.id)
        }
        return Self.describe(self.instances[instance.id] ?? instance)
    }

    /// No new sessions; stopped once its last session ended (at once when it has none).
    func drain(instanceID: String) {
        guard let instance = self.instances[instanceID] else { return }
        switch instance.phase {
        case .stopping, .draining: return
        case .starting, .running: break
        }
        self.instances[instanceID]?.phase = .draining
        self.logger.info(
            "draining instance", metadata: ["instance.id": "\(instanceID)", "sessions": "\(instance.sessionIDs.count)"])
        if instance.sessionIDs.isEmpty { self.stopDrained(instanceID: instanceID) }
    }

    func stopDrained(instanceID: String) {
        self.terminate(
            instanceID: instanceID,
            deadline: ServiceSupport.nowUnixMilliseconds() + self.settings.stopGrace.wholeMilliseconds,
            reason: "drained")
    }

    /// Sends the termination notice to the application and every client, then kills the instance at
    /// `deadline` (SIGTERM, then SIGKILL after ``Settings/killGrace``). Its sessions end when it exits,
    /// with `reason` and the state the application saved.
    func terminate(instanceID: String, deadline: Int64, reason: String) {
        guard let instance = self.instances[instanceID] else { return }
        if case .stopping = instance.phase { return }
        self.instances[instanceID]?.phase = .stopping(deadlineUnixMilliseconds: deadline)
        self.instances[instanceID]?.stopReason = reason
        self.failLaunch(instanceID: instanceID, .unavailable("instance \(instanceID) is stopping (\(reason))"))
        for sessionID in instance.sessionIDs {
            _ = self.sessions[sessionID]?.feed.send(.notice(deadlineUnixMilliseconds: deadline, reason: reason))
        }
        instance.channel.send(.terminationNotice(deadlineUnixMilliseconds: deadline))
        self.logger.info(
            "terminating instance",
            metadata: [
                "instance.id": "\(instanceID)", "reason": "\(reason)", "deadline_unix_ms": "\(deadline)",
                "sessions": "\(instance.sessionIDs.count)",
            ])
        self.scheduleKill(instance.process, at: deadline)
    }

    /// SIGTERM to the process group at `deadline`, SIGKILL ``Settings/killGrace`` later (each only while
    /// the process has not been reaped).
    func scheduleKill(_ process: ChildProcess, at deadline: Int64) {
        let killGrace = self.settings.killGrace
        self.schedule {
            let wait = max(0, deadline - ServiceSupport.nowUnixMilliseconds())
            try? await Task.sleep(for: .milliseconds(wait))
            process.signalGroup(SIGTERM)
            try? await Task.sleep(for: killGrace)
            process.signalGroup(SIGKILL)
        }
    }

    // MARK: Reports

    /// ListInstances: every instance, by id.
    func listInstances() async throws(StreamHostError) -> Skyport_Streamhost_V1_ListInstancesResponse {
        var response = Skyport_Streamhost_V1_ListInstancesResponse()
        do { response.hostId = try await self.hostID() } catch { throw .unavailable("the host has no identity yet") }
        response.instances = self.instances.values.sorted { $0.id < $1.id }.map(Self.describe)
        return response
    }

    /// What heartbeats carry: every instance and the sessions on it.
    func instanceReports() -> [Skyport_Hostmgr_V1_InstanceReport] {
        self.instances.values.sorted { $0.id < $1.id }.map { instance in
            var report = Skyport_Hostmgr_V1_InstanceReport()
            report.instanceId = instance.id
            report.appId = instance.appID
            report.versionId = instance.versionID
            report.seats = UInt32(instance.seats)
            report.sessionIds = instance.sessionIDs.sorted()
            report.state = instance.stateText
            return report
        }
    }

    static func describe(_ instance: InstanceRecord) -> Skyport_Streamhost_V1_Instance {
        var message = Skyport_Streamhost_V1_Instance()
        message.instanceId = instance.id
        message.appId = instance.appID
        message.versionId = instance.versionID
        message.seats = UInt32(instance.seats)
        message.sessionIds = instance.sessionIDs.sorted()
        message.state = instance.stateText
        message.pid = instance.process.pid
        message.startedAtUnixMs = instance.startedAt
        return message
    }

    /// The last lines of an application's log, for the host's own log when it ends badly.
    static func tail(of path: String, lines: Int = 10) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 4096 ? size - 4096 : 0)
        let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}
