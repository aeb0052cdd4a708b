import SkyportInterop
import SkyportProto
import SkyportService

extension SessionRuntime {
    /// A client's hello: the session must be provisioned here, not connected yet, within its connect
    /// deadline, and the credential's SHA-256 must match (compared in constant time).
    ///
    /// - Returns: the welcome and the feed of what the client receives.
    /// - Throws: ``StreamHostError/unauthenticated`` otherwise, whatever the reason.
    func connect(sessionID: String, credential: [UInt8]) throws(StreamHostError) -> (
        welcome: Skyport_Streamhost_V1_Welcome, feed: ClientFeed
    ) {
        let hash = Digest.sha256(credential)
        guard let session = self.sessions[sessionID] else {
            // The same work as for a known session, so timing does not tell which sessions exist.
            _ = ConstantTime.equals(hash, [UInt8](repeating: 0, count: hash.count))
            throw .unauthenticated
        }
        let matches = ConstantTime.equals(hash, session.credentialHash)
        guard matches, session.phase == .provisioned, ServiceSupport.nowUnixMilliseconds() <= session.connectBy
        else { throw .unauthenticated }
        self.sessions[sessionID]?.phase = .connected
        self.record(
            .sessionConnected, instanceID: session.instanceID, sessionID: sessionID, appID: session.appID,
            versionID: session.versionID)
        self.logger.info(
            "client connected", metadata: ["session.id": "\(sessionID)", "instance.id": "\(session.instanceID)"])
        var welcome = Skyport_Streamhost_V1_Welcome()
        welcome.sessionId = sessionID
        welcome.appId = session.appID
        welcome.versionId = session.versionID
        welcome.instanceId = session.instanceID
        welcome.resumedState = session.resumedState
        return (welcome, session.feed)
    }

    /// One input of a connected client, for the application.
    func input(sessionID: String, data: [UInt8]) {
        guard let session = self.sessions[sessionID], session.phase == .connected else { return }
        self.instances[session.instanceID]?.channel.send(.input(sessionID: sessionID, data: data))
    }

    /// The client is gone (closed its side, broke off, or broke the protocol): the session detaches.
    func clientLeft(sessionID: String, reason: String) {
        guard self.sessions[sessionID]?.phase == .connected else { return }
        self.detach(sessionID: sessionID, reason: reason)
    }

    func connectDeadlinePassed(sessionID: String, connectBy: Int64) {
        guard let session = self.sessions[sessionID], session.connectBy == connectBy, session.phase == .provisioned
        else { return }
        // "session ended" logs it, with this reason.
        self.detach(sessionID: sessionID, reason: "not connected by deadline")
    }

    /// Tells the application the session is over and waits (``Settings/stateWait``) for its
    /// `state_saved`; the session ends when that arrives, or when the wait is over with the state the
    /// application saved before, if any.
    func detach(sessionID: String, reason: String) {
        guard let session = self.sessions[sessionID] else { return }
        if case .detaching = session.phase { return }
        self.sessions[sessionID]?.phase = .detaching(reason: reason)
        self.instances[session.instanceID]?.channel.send(.sessionDetached(sessionID: sessionID, reason: reason))
        let wait = self.settings.stateWait
        self.schedule(after: wait) { [weak self] in await self?.stateWaitExpired(sessionID: sessionID) }
    }

    private func stateWaitExpired(sessionID: String) {
        guard case .detaching(let reason) = self.sessions[sessionID]?.phase else { return }
        self.logger.warning(
            "application saved no state for the session in time", metadata: ["session.id": "\(sessionID)"])
        self.endSession(sessionID, reason: reason)
    }

    /// Ends the session: its seat and slot are free, its client gets `ended`, SESSION_ENDED is recorded
    /// with the state the application saved; a draining instance whose last session this was stops.
    func endSession(_ sessionID: String, reason: String) {
        guard let session = self.sessions.removeValue(forKey: sessionID) else { return }
        self.usedSlots -= 1
        session.feed.end(reason: reason)
        self.record(
            .sessionEnded, instanceID: session.instanceID, sessionID: sessionID, appID: session.appID,
            versionID: session.versionID, reason: reason, savedState: session.savedState)
        self.logger.info(
            "session ended",
            metadata: [
                "session.id": "\(sessionID)", "reason": "\(reason)", "state_saved": "\(session.savedState != nil)",
            ])
        // In place: copying the record out and back would copy its session set (thousands of ids on a
        // busy multi-tenant instance) on every session end.
        guard self.instances[session.instanceID]?.sessionIDs.remove(sessionID) != nil else { return }
        if let instance = self.instances[session.instanceID], instance.phase == .draining,
            instance.sessionIDs.isEmpty
        {
            self.stopDrained(instanceID: instance.id)
        }
    }
}
