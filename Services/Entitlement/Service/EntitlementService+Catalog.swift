public import SkyportProto
public import SkyportRPC
import SkyportSecurity
import SkyportService
import SkyportStorage

/// The application catalogue and entitlements, for the developer of the calling API key.
extension EntitlementService {
    /// The developer the API key authenticated (set by `APIKeyAuthenticator`).
    static func callingDeveloper() throws -> String {
        guard case .apiKey(_, let developerID) = AuthenticatedCaller.current else {
            throw RPCError(code: .unauthenticated, message: "this method needs an API key")
        }
        return developerID
    }

    /// The developer's application, or NOT_FOUND (also for another developer's application).
    func ownApplication(_ appID: String, developerID: String) async throws -> CatalogStore.Application {
        try ServiceSupport.requireText(appID, field: "app_id", maxLength: 64)
        guard
            let application = try await ServiceSupport.store({
                try await self.catalog.application(appID, developerID: developerID)
            })
        else {
            throw Self.noSuchApplication(appID)
        }
        return application
    }

    /// NOT_FOUND for an application that does not exist or belongs to another developer (the two look
    /// the same to the caller).
    static func noSuchApplication(_ appID: String) -> RPCError {
        RPCError(code: .notFound, message: "application \(appID) not found")
    }

    /// Registers an application of the calling developer.
    public func registerApplication(
        _ request: Skyport_Entitlement_V1_RegisterApplicationRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_Application {
        let developerID = try Self.callingDeveloper()
        try ServiceSupport.requireText(request.name, field: "name", maxLength: 200)
        try ServiceSupport.requireName(request.homeDatacentre, field: "home_datacentre")
        guard self.sessions.datacentres.contains(request.homeDatacentre) else {
            throw RPCError(
                code: .invalidArgument,
                message: "home_datacentre \(request.homeDatacentre) is not a data centre of this platform")
        }
        let profile = request.profile ?? Skyport_Entitlement_V1_ResourceProfile()
        guard profile.cpuUnits >= 1, profile.memoryMib >= 1, profile.memoryMib <= 1 << 40,
            profile.sessionsPerInstance >= 1
        else {
            throw RPCError(
                code: .invalidArgument,
                message: "profile needs cpu_units, memory_mib and sessions_per_instance of at least 1")
        }
        let application = CatalogStore.Application(
            appID: ServiceSupport.newIdentifier(prefix: "app"), developerID: developerID, name: request.name,
            homeDatacentre: request.homeDatacentre,
            profile: CatalogStore.Profile(
                cpuUnits: Int64(profile.cpuUnits), memoryMiB: Int64(profile.memoryMib),
                minGPUScore: Int64(profile.minGpuScore), sessionsPerInstance: Int64(profile.sessionsPerInstance)),
            createdAtMilliseconds: ServiceSupport.nowUnixMilliseconds())
        try await ServiceSupport.store { try await self.catalog.register(application) }
        return Self.message(application, versions: [])
    }

    /// One of the developer's applications with its versions.
    public func getApplication(
        _ request: Skyport_Entitlement_V1_GetApplicationRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_Application {
        let application = try await self.ownApplication(request.appId, developerID: try Self.callingDeveloper())
        let versions = try await ServiceSupport.store { try await self.catalog.versions(of: application.appID) }
        return Self.message(application, versions: versions)
    }

    /// Publishes a version; ALREADY_EXISTS when the id is taken.
    public func publishVersion(
        _ request: Skyport_Entitlement_V1_PublishVersionRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_AppVersion {
        let application = try await self.ownApplication(request.appId, developerID: try Self.callingDeveloper())
        try ServiceSupport.requireText(request.versionId, field: "version_id", maxLength: 64)
        try ServiceSupport.requireText(request.launchCommand, field: "launch_command", maxLength: 1024)
        guard request.releaseAtUnixMs >= 0 else {
            throw RPCError(code: .invalidArgument, message: "release_at_unix_ms must not be negative")
        }
        let now = ServiceSupport.nowUnixMilliseconds()
        let version = CatalogStore.Version(
            appID: application.appID, versionID: request.versionId, launchCommand: request.launchCommand,
            releaseAtMilliseconds: request.releaseAtUnixMs == 0 ? now : request.releaseAtUnixMs,
            publishedAtMilliseconds: now)
        do {
            try await self.catalog.publish(version)
        } catch StorageError.uniqueViolation {
            throw RPCError(
                code: .alreadyExists, message: "application \(application.appID) has a version \(request.versionId)")
        } catch let error as StorageError {
            throw error.rpcError
        }
        if version.releaseAtMilliseconds <= now {
            // Released now: every data centre learns it (so older instances drain); a data centre that
            // misses it learns it from the sessions it places, and RollOutVersion can repeat it.
            _ = await self.deployEverywhere(Self.launch(application, version), force: false, noticeSeconds: 0)
        }
        return Self.message(version)
    }

    /// Grants or replaces an entitlement.
    public func grantEntitlement(
        _ request: Skyport_Entitlement_V1_GrantEntitlementRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_EntitlementRecord {
        let application = try await self.ownApplication(request.appId, developerID: try Self.callingDeveloper())
        try ServiceSupport.requireText(request.userId, field: "user_id", maxLength: 128)
        switch request.kind {
        case .purchase, .subscription, .trial, .preOrder: break
        case .unspecified, .unrecognized:
            throw RPCError(code: .invalidArgument, message: "kind must be purchase, subscription, trial or pre-order")
        }
        let now = ServiceSupport.nowUnixMilliseconds()
        guard request.expiresAtUnixMs == 0 || request.expiresAtUnixMs > now else {
            throw RPCError(code: .invalidArgument, message: "expires_at_unix_ms is in the past")
        }
        let entitlement = CatalogStore.Entitlement(
            appID: application.appID, userID: request.userId, kind: Int64(request.kind.rawValue),
            expiresAtMilliseconds: request.expiresAtUnixMs, grantedAtMilliseconds: now, revokedAtMilliseconds: nil)
        try await ServiceSupport.store { try await self.catalog.grant(entitlement) }
        return Self.message(entitlement)
    }

    /// Revokes an entitlement in force; NOT_FOUND when there is none.
    public func revokeEntitlement(
        _ request: Skyport_Entitlement_V1_RevokeEntitlementRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_EntitlementRecord {
        let application = try await self.ownApplication(request.appId, developerID: try Self.callingDeveloper())
        try ServiceSupport.requireText(request.userId, field: "user_id", maxLength: 128)
        guard
            let revoked = try await ServiceSupport.store({
                try await self.catalog.revoke(
                    appID: application.appID, userID: request.userId, now: ServiceSupport.nowUnixMilliseconds())
            })
        else {
            throw RPCError(code: .notFound, message: "user \(request.userId) has no entitlement in force to revoke")
        }
        return Self.message(revoked)
    }

    /// The entitlements of an application.
    public func listEntitlements(
        _ request: Skyport_Entitlement_V1_ListEntitlementsRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_ListEntitlementsResponse {
        let application = try await self.ownApplication(request.appId, developerID: try Self.callingDeveloper())
        var response = Skyport_Entitlement_V1_ListEntitlementsResponse()
        response.entitlements = try await ServiceSupport.store {
            try await self.catalog.entitlements(appID: application.appID)
        }
        .map(Self.message)
        return response
    }

    static func message(_ application: CatalogStore.Application, versions: [CatalogStore.Version])
        -> Skyport_Entitlement_V1_Application
    {
        var message = Skyport_Entitlement_V1_Application()
        message.appId = application.appID
        message.name = application.name
        message.homeDatacentre = application.homeDatacentre
        var profile = Skyport_Entitlement_V1_ResourceProfile()
        profile.cpuUnits = UInt32(clamping: application.profile.cpuUnits)
        profile.memoryMib = UInt64(application.profile.memoryMiB)
        profile.minGpuScore = UInt32(clamping: application.profile.minGPUScore)
        profile.sessionsPerInstance = UInt32(clamping: application.profile.sessionsPerInstance)
        message.profile = profile
        message.createdAtUnixMs = application.createdAtMilliseconds
        message.versions = versions.map(Self.message)
        return message
    }

    static func message(_ version: CatalogStore.Version) -> Skyport_Entitlement_V1_AppVersion {
        var message = Skyport_Entitlement_V1_AppVersion()
        message.appId = version.appID
        message.versionId = version.versionID
        message.launchCommand = version.launchCommand
        message.releaseAtUnixMs = version.releaseAtMilliseconds
        message.publishedAtUnixMs = version.publishedAtMilliseconds
        return message
    }

    static func message(_ entitlement: CatalogStore.Entitlement) -> Skyport_Entitlement_V1_EntitlementRecord {
        var message = Skyport_Entitlement_V1_EntitlementRecord()
        message.appId = entitlement.appID
        message.userId = entitlement.userID
        message.kind = Skyport_Entitlement_V1_EntitlementKind(rawValue: Int32(clamping: entitlement.kind))
        message.expiresAtUnixMs = entitlement.expiresAtMilliseconds
        message.grantedAtUnixMs = entitlement.grantedAtMilliseconds
        message.revokedAtUnixMs = entitlement.revokedAtMilliseconds ?? 0
        return message
    }
}
