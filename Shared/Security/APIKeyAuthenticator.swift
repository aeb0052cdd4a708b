public import SkyportRPC

/// Authenticates callers of methods that `MethodAccessPolicy` marks `.publicMethod(.apiKey)`.
///
/// Reads the key from `authorization: Bearer <key>` or else `x-api-key: <key>`, looks its record up by
/// key id, verifies the hash in constant time, and runs the rest of the call with
/// `AuthenticatedCaller.current` set to `.apiKey(keyID:principal:)`. A missing, malformed, unknown or
/// wrong key ends the call with UNAUTHENTICATED; the message is the same whether or not the key id
/// exists. Other methods pass through. List it after `IdentityAuthorizationInterceptor`.
public struct APIKeyAuthenticator: ServerInterceptor {
    /// The policy that says which methods take API keys.
    public let policy: MethodAccessPolicy
    /// Where records are looked up.
    public let store: any APIKeyStore
    /// How presented keys are hashed.
    public let hasher: APIKeyHasher

    /// Creates the interceptor.
    public init(policy: MethodAccessPolicy, store: any APIKeyStore, hasher: APIKeyHasher) {
        self.policy = policy
        self.store = store
        self.hasher = hasher
    }

    /// Authenticates API-key methods, then continues.
    public func intercept(context: ServerContext, next: () async throws -> Void) async throws {
        guard self.policy.access(for: context.method) == .publicMethod(.apiKey) else {
            try await next()
            return
        }
        let caller = try await self.authenticate(context.requestMetadata)
        try await AuthenticatedCaller.$current.withValue(caller) { try await next() }
    }

    /// The caller a request's metadata authenticates.
    ///
    /// - Throws: `RPCError` UNAUTHENTICATED for a missing or invalid key; UNAVAILABLE when the store fails.
    public func authenticate(_ metadata: Metadata) async throws -> AuthenticatedCaller {
        guard let text = Self.presentedKey(metadata) else {
            throw RPCError(
                code: .unauthenticated, message: "missing API key: send 'authorization: Bearer <key>' or 'x-api-key'")
        }
        let invalid = RPCError(code: .unauthenticated, message: "invalid API key")
        guard let key = APIKey(parsing: text) else { throw invalid }
        let record: StoredAPIKey?
        do {
            record = try await self.store.lookUp(keyID: key.keyID)
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .unavailable, message: "API key store unavailable")
        }
        guard let record else {
            // Hash and compare anyway so an unknown id takes as long as a wrong secret.
            _ = self.hasher.verify(key, against: Self.unknownKeyRecord)
            throw invalid
        }
        guard self.hasher.verify(key, against: record) else { throw invalid }
        return .apiKey(keyID: record.keyID, principal: record.principal)
    }

    private static let unknownKeyRecord = StoredAPIKey(keyID: "", hash: [UInt8](repeating: 0, count: 32), principal: "")

    /// The key text from `authorization: Bearer …` (scheme case-insensitive) or `x-api-key`.
    static func presentedKey(_ metadata: Metadata) -> Substring? {
        if let authorization = metadata["authorization"] {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return parts[1].drop(while: { $0 == " " })
            }
        }
        if let key = metadata["x-api-key"], !key.isEmpty { return Substring(key) }
        return nil
    }
}
