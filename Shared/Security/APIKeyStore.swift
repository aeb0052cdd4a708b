/// Where `APIKeyAuthenticator` finds stored API keys. Implemented by the entitlement service's store;
/// `InMemoryAPIKeyStore` serves tests and local tools.
public protocol APIKeyStore: Sendable {
    /// The record for `keyID`, or `nil` when there is none (or it was revoked).
    func lookUp(keyID: String) async throws -> StoredAPIKey?
}
