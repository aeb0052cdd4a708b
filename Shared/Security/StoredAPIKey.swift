/// What a key store keeps for one API key: its id, the hash of the whole key, and whose it is.
/// Never the key itself.
public struct StoredAPIKey: Sendable, Hashable, CustomStringConvertible {
    /// The key id, the look-up key.
    public var keyID: String
    /// `APIKeyHasher.hash` of the whole key.
    public var hash: [UInt8]
    /// Who the key authenticates, e.g. a developer id; handlers see it in `AuthenticatedCaller`.
    public var principal: String

    /// Creates a record; usually from `APIKeyHasher.record(for:principal:)`.
    public init(keyID: String, hash: [UInt8], principal: String) {
        self.keyID = keyID
        self.hash = hash
        self.principal = principal
    }

    /// The key id and principal; not the hash.
    public var description: String { "StoredAPIKey(\(self.keyID), principal: \(self.principal))" }
}
