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
        let application = try await self.ownApplication(request.appId, developerID: try Self.callingDeveloper())
        try ServiceSupport.requireText(request.userId, field: "user_id", maxLength: 128)
        let now = ServiceSupport.nowUnixMilliseconds()
        let entitlement = try await ServiceSupport.store {
            try await self.catalog.entitlement(appID: application.appID, userID: request.userId)
        }
        guard let entitlement else {
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
                message: "the entitlement of user \(request.userId) expired at \(Self.date(entitlement.expiresAtMilliseconds))")
        }
        let versions = try await ServiceSupport.store { try await self.catalog.versions(of: application.appID) }
        guard versions.contains(where: { $0.releaseAtMilliseconds <= now }) else {
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
        let session = try await self.sessions.createSession(in: application.homeDatacentre, create)

        var response = Skyport_Entitlement_V1_RequestSessionResponse()
        response.sessionId = session.sessionId
        response.token = session.token
        response.tokenText = session.tokenText
        response.expiresAtUnixMs = session.expiresAtUnixMs
        response.redemptionEndpoints = self.redemptionEndpoints
        if let endpoint = self.redemptionEndpoints.first {
            response.redeemUrl = "skyport://\(endpoint)/redeem?token=\(session.tokenText)"
        }
        return response
    }

    public func rollOutVersion(
        _ request: Skyport_Entitlement_V1_RollOutVersionRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_RollOutVersionResponse {
        throw ServiceSupport.unimplemented(Skyport_Entitlement_V1_EntitlementMethods.rollOutVersion)
    }

    /// RFC 3339 UTC, for messages people read.
    static func date(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
