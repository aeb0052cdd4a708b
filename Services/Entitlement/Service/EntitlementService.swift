public import SkyportProto
public import SkyportRPC
import SkyportSecurity
import SkyportService

/// `skyport.entitlement.v1.Entitlement`: developers here; the catalogue and entitlements in
/// `EntitlementService+Catalog.swift`; session requests in `EntitlementService+Sessions.swift`.
public struct EntitlementService: Skyport_Entitlement_V1_EntitlementProvider {
    let store: EntitlementStore
    let catalog: CatalogStore
    let sessions: any SessionCreator
    let redemptionEndpoints: [String]

    /// A service over its stores, creating sessions through `sessions` and pointing clients at
    /// `redemptionEndpoints`.
    public init(
        store: EntitlementStore, catalog: CatalogStore, sessions: any SessionCreator, redemptionEndpoints: [String]
    ) {
        self.store = store
        self.catalog = catalog
        self.sessions = sessions
        self.redemptionEndpoints = redemptionEndpoints
    }

    /// Creates a developer and returns its first API key (once; only the hash is stored).
    public func createDeveloper(
        _ request: Skyport_Entitlement_V1_CreateDeveloperRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_CreateDeveloperResponse {
        try ServiceSupport.requireText(request.displayName, field: "display_name", maxLength: 200)
        try ServiceSupport.requireText(request.email, field: "email", maxLength: 254)
        guard request.email.contains("@"), !request.email.contains(" ") else {
            throw RPCError(code: .invalidArgument, message: "email must be an address like name@example.com")
        }
        let (developer, key) = try await ServiceSupport.store {
            try await self.store.createDeveloper(
                displayName: request.displayName, email: request.email, now: ServiceSupport.nowUnixMilliseconds())
        }
        var response = Skyport_Entitlement_V1_CreateDeveloperResponse()
        response.developer = Self.message(developer)
        response.apiKey = key.reveal()
        return response
    }

    /// Reads a developer: NOT_FOUND when there is none.
    public func getDeveloper(
        _ request: Skyport_Entitlement_V1_GetDeveloperRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_Developer {
        try ServiceSupport.requireText(request.developerId, field: "developer_id", maxLength: 64)
        guard
            let developer = try await ServiceSupport.store({ try await self.store.developer(id: request.developerId) })
        else {
            throw RPCError(code: .notFound, message: "developer \(request.developerId) not found")
        }
        return Self.message(developer)
    }

    /// Adds an API key to a developer and returns it (once; only the hash is stored).
    public func createAPIKey(
        _ request: Skyport_Entitlement_V1_CreateAPIKeyRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_CreateAPIKeyResponse {
        try ServiceSupport.requireText(request.developerId, field: "developer_id", maxLength: 64)
        guard
            let (developer, key) = try await ServiceSupport.store({
                try await self.store.createAPIKey(
                    developerID: request.developerId, now: ServiceSupport.nowUnixMilliseconds())
            })
        else {
            throw RPCError(code: .notFound, message: "developer \(request.developerId) not found")
        }
        var response = Skyport_Entitlement_V1_CreateAPIKeyResponse()
        response.developer = Self.message(developer)
        response.apiKey = key.reveal()
        return response
    }

    /// Revokes one of a developer's API keys: NOT_FOUND when it has no such active key.
    public func revokeAPIKey(
        _ request: Skyport_Entitlement_V1_RevokeAPIKeyRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_Developer {
        try ServiceSupport.requireText(request.developerId, field: "developer_id", maxLength: 64)
        // Checked for its shape and never echoed: an operator who pastes a whole key by mistake must not
        // find its secret in an error message or a log.
        guard APIKey.isKeyID(request.apiKeyId) else {
            throw RPCError(
                code: .invalidArgument, message: "api_key_id must be the 16 hex digits between sk_ and the next _")
        }
        guard
            let developer = try await ServiceSupport.store({
                try await self.store.revokeAPIKey(
                    developerID: request.developerId, keyID: request.apiKeyId, now: ServiceSupport.nowUnixMilliseconds()
                )
            })
        else {
            throw RPCError(
                code: .notFound,
                message: "developer \(request.developerId) has no active API key \(request.apiKeyId)")
        }
        return Self.message(developer)
    }

    /// The developer of the calling API key (authenticated by `APIKeyAuthenticator`).
    public func whoAmI(
        _ request: Skyport_Entitlement_V1_WhoAmIRequest, context: ServerContext
    ) async throws -> Skyport_Entitlement_V1_Developer {
        guard case .apiKey(_, let developerID) = AuthenticatedCaller.current else {
            throw RPCError(code: .unauthenticated, message: "WhoAmI needs an API key")
        }
        guard let developer = try await ServiceSupport.store({ try await self.store.developer(id: developerID) }) else {
            throw RPCError(code: .notFound, message: "developer \(developerID) not found")
        }
        return Self.message(developer)
    }

    static func message(_ developer: EntitlementStore.Developer) -> Skyport_Entitlement_V1_Developer {
        var message = Skyport_Entitlement_V1_Developer()
        message.developerId = developer.developerID
        message.displayName = developer.displayName
        message.email = developer.email
        message.createdAtUnixMs = developer.createdAtMilliseconds
        message.apiKeyIds = developer.activeKeyIDs
        return message
    }
}
