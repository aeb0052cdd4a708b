import Foundation
public import SkyportProto
public import SkyportRPC
import SkyportService

/// Session requests: the entitlement check, then the home host management's one-time token.
extension EntitlementService {
    /// Checks the user's entitlement and returns a one-time token from the application's home host
    /// management.
    public func requestSession(
        _ request: Skyport_Entitlement_V1_RequestSessionRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_RequestSessionResponse {
        let developerID = try Self.callingDeveloper()
        try ServiceSupport.requireText(request.appId, field: "app_id", maxLength: 64)
        try ServiceSupport.requireText(request.userId, field: "user_id", maxLength: 128)
        let now = ServiceSupport.nowUnixMilliseconds()
        let facts = try await ServiceSupport.store {
            try await self.catalog.sessionFacts(appID: request.appId, developerID: developerID, userID: request.userId)
        }
        guard let application = facts.application else {
            throw Self.noSuchApplication(request.appId)
        }
        guard let entitlement = facts.entitlement else {
            throw RPCError(
                code: .permissionDenied, message: "user \(request.userId) has no entitlement to \(application.appID)")
        }
        if let revoked = entitlement.revokedAtMilliseconds {
            throw RPCError(
                code: .permissionDenied,
                message: "the entitlement of user \(request.userId) was revoked at \(Self.date(revoked))")
        }
        if entitlement.expiresAtMilliseconds != 0 && entitlement.expiresAtMilliseconds <= now {
            throw RPCError(
                code: .permissionDenied,
                message:
                    "the entitlement of user \(request.userId) expired at \(Self.date(entitlement.expiresAtMilliseconds))"
            )
        }
        let versions = facts.versions
        guard let current = versions.last(where: { $0.releaseAtMilliseconds <= now }) else {
            if let next = versions.first {
                let kind =
                    entitlement.kind == Int64(Skyport_Entitlement_V1_EntitlementKind.preOrder.rawValue)
                    ? "a pre-order" : "an entitlement"
                throw RPCError(
                    code: .failedPrecondition,
                    message: "\(application.appID) is released on \(Self.date(next.releaseAtMilliseconds)); "
                        + "user \(request.userId) holds \(kind) until then")
            }
            throw RPCError(code: .failedPrecondition, message: "\(application.appID) has no published version yet")
        }

        var create = Skyport_Hostmgr_V1_CreateSessionRequest()
        create.appId = application.appID
        create.userId = request.userId
        create.developerId = application.developerID
        create.clientAddress = request.clientAddress
        create.groupId = request.groupId
        create.tokenValiditySeconds = request.tokenValiditySeconds
        create.clientCidr = request.clientCidr
        create.app = Self.launch(application, current)
        let session = try await self.sessions.createSession(in: application.homeDatacentre, create)

        var response = Skyport_Entitlement_V1_RequestSessionResponse()
        response.sessionId = session.sessionId
        response.token = session.token
        response.tokenText = session.tokenText
        response.expiresAtUnixMs = session.expiresAtUnixMs
        response.versionId = current.versionID
        response.redemptionEndpoints = self.redemptionEndpoints
        if let endpoint = self.redemptionEndpoints.first {
            response.redeemUrl = "skyport://\(endpoint)/redeem?token=\(session.tokenText)"
        }
        return response
    }

    /// Deploys a released version to every data centre, forcing older instances out after a notice
    /// when asked. FAILED_PRECONDITION before the release date; UNAVAILABLE when no data centre took it.
    public func rollOutVersion(
        _ request: Skyport_Entitlement_V1_RollOutVersionRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_RollOutVersionResponse {
        let application = try await self.ownApplication(request.appId, developerID: try Self.callingDeveloper())
        try ServiceSupport.requireText(request.versionId, field: "version_id", maxLength: 64)
        guard request.noticeSeconds <= 300 else {
            throw RPCError(code: .invalidArgument, message: "notice_seconds must be 0 to 300")
        }
        let versions = try await ServiceSupport.store { try await self.catalog.versions(of: application.appID) }
        guard let version = versions.first(where: { $0.versionID == request.versionId }) else {
            throw RPCError(
                code: .notFound, message: "application \(application.appID) has no version \(request.versionId)")
        }
        guard version.releaseAtMilliseconds <= ServiceSupport.nowUnixMilliseconds() else {
            throw RPCError(
                code: .failedPrecondition,
                message: "version \(version.versionID) is released on \(Self.date(version.releaseAtMilliseconds))")
        }
        let results = await self.deployEverywhere(
            Self.launch(application, version), force: request.force, noticeSeconds: request.noticeSeconds)
        var response = Skyport_Entitlement_V1_RollOutVersionResponse()
        for (datacentre, deployed) in results {
            response.datacentres.append(datacentre)
            response.instancesAffected += deployed.instancesAffected
            response.sessionsNoticed += deployed.sessionsNoticed
        }
        guard !response.datacentres.isEmpty else {
            throw RPCError(code: .unavailable, message: "no data centre could be reached; retry")
        }
        return response
    }

    /// Deploys `launch` to every data centre at once; the data centres that took it (failures are
    /// logged by the directory).
    func deployEverywhere(
        _ launch: Skyport_Hostmgr_V1_AppLaunch, force: Bool, noticeSeconds: UInt32
    ) async -> [(String, Skyport_Hostmgr_V1_DeployVersionResponse)] {
        var request = Skyport_Hostmgr_V1_DeployVersionRequest()
        request.app = launch
        request.force = force
        request.noticeSeconds = noticeSeconds
        let deploy = request
        return await withTaskGroup(of: (String, Skyport_Hostmgr_V1_DeployVersionResponse)?.self) { group in
            for datacentre in self.sessions.datacentres {
                group.addTask {
                    guard let response = try? await self.sessions.deployVersion(in: datacentre, deploy) else {
                        return nil
                    }
                    return (datacentre, response)
                }
            }
            var results: [(String, Skyport_Hostmgr_V1_DeployVersionResponse)] = []
            for await result in group { if let result { results.append(result) } }
            return results.sorted { $0.0 < $1.0 }
        }
    }

    /// What host management needs to run `version` of `application`.
    static func launch(_ application: CatalogStore.Application, _ version: CatalogStore.Version)
        -> Skyport_Hostmgr_V1_AppLaunch
    {
        var launch = Skyport_Hostmgr_V1_AppLaunch()
        launch.appId = application.appID
        launch.versionId = version.versionID
        launch.developerId = application.developerID
        launch.launchCommand = version.launchCommand
        launch.cpuUnits = UInt32(clamping: application.profile.cpuUnits)
        launch.memoryMib = UInt64(max(0, application.profile.memoryMiB))
        launch.minGpuScore = UInt32(clamping: application.profile.minGPUScore)
        launch.sessionsPerInstance = UInt32(clamping: max(1, application.profile.sessionsPerInstance))
        launch.releaseAtUnixMs = version.releaseAtMilliseconds
        launch.homeDatacentre = application.homeDatacentre
        return launch
    }

    /// RFC 3339 UTC, for messages people read.
    static func date(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
