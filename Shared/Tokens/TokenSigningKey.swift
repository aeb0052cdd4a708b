public import SkyportInterop

/// One of host management's signing keys: an id (published with the public key, carried in every
/// token, so keys can rotate) and an Ed25519 private key.
public struct TokenSigningKey: Sendable, CustomStringConvertible {
    /// The key id, e.g. `dc1-20261121-1`.
    public let keyID: String
    /// The private key. Secret: never log it.
    public let privateKey: Ed25519.PrivateKey

    /// A key from its parts.
    public init(keyID: String, privateKey: Ed25519.PrivateKey) {
        self.keyID = keyID
        self.privateKey = privateKey
    }

    /// A new random key.
    public static func generate(keyID: String) throws -> TokenSigningKey {
        TokenSigningKey(keyID: keyID, privateKey: try Ed25519.PrivateKey())
    }

    /// The public half, as published.
    public var publicKey: Ed25519.PublicKey { self.privateKey.publicKey }

    /// The id and public key only.
    public var description: String { "TokenSigningKey(\(self.keyID), \(self.publicKey))" }
}
