import SkyportInterop

/// Hashes API keys for storage and verifies presented keys against stored hashes in constant time.
///
/// Without a pepper the hash is SHA-256 of the key text; with one (a per-deployment secret kept out of
/// the database) it is HMAC-SHA-256 keyed by the pepper, so a leaked table alone cannot be used to test
/// guesses. Keys carry 256 random bits, so no slow password hash is needed.
public struct APIKeyHasher: Sendable, CustomStringConvertible {
    private let pepper: [UInt8]?

    /// Creates a hasher; `pepper` must be the same for every instance of a deployment.
    public init(pepper: [UInt8]? = nil) {
        self.pepper = pepper.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The 32-byte hash to store for `key`.
    public func hash(_ key: APIKey) -> [UInt8] {
        let text = Array(key.reveal().utf8)
        if let pepper { return Digest.hmacSHA256(key: pepper, message: text) }
        return Digest.sha256(text)
    }

    /// The record to store for a new key.
    public func record(for key: APIKey, principal: String) -> StoredAPIKey {
        StoredAPIKey(keyID: key.keyID, hash: self.hash(key), principal: principal)
    }

    /// Whether `key` is the key `stored` was made from; the hash comparison is constant-time.
    public func verify(_ key: APIKey, against stored: StoredAPIKey) -> Bool {
        let matches = ConstantTime.equals(self.hash(key), stored.hash)
        // The key id is public, so comparing it normally leaks nothing.
        return matches && key.keyID == stored.keyID
    }

    /// Whether a pepper is set; never the pepper.
    public var description: String { "APIKeyHasher(\(self.pepper == nil ? "SHA-256" : "HMAC-SHA-256, peppered"))" }
}
