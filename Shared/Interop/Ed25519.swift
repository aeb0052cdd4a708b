internal import COpenSSL
internal import SkyportRPC

/// Ed25519 signatures through OpenSSL's EVP interface (RFC 8032): 32-byte keys, 64-byte signatures.
///
/// Keys cross this API only as raw bytes, so callers store and publish them without touching OpenSSL.
/// Each key holds its loaded OpenSSL key (``OwnedPKey``) for its lifetime: loading a private key derives its public
/// key (a scalar multiplication, as dear as a signature), so loading per signature doubled its cost.
/// OpenSSL allows concurrent signing and verifying with one loaded key.
public enum Ed25519 {
    /// A private signing key.
    public struct PrivateKey: Sendable, CustomStringConvertible {
        /// The 32-byte seed. Secret: never log it.
        public let rawRepresentation: [UInt8]
        /// The matching public key.
        public let publicKey: PublicKey
        private let key: OwnedPKey

        /// A new random key from OpenSSL's generator.
        public init() throws {
            guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else {
                throw TLSError.fromQueue("create an Ed25519 key context")
            }
            defer { EVP_PKEY_CTX_free(context) }
            var key: OpaquePointer?
            guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_keygen(context, &key) == 1, let key else {
                throw TLSError.fromQueue("generate an Ed25519 key")
            }
            defer { EVP_PKEY_free(key) }
            try self.init(rawRepresentation: Ed25519.raw(key, private: true))
        }

        /// The key with the 32-byte seed `rawRepresentation`.
        public init(rawRepresentation: [UInt8]) throws {
            guard rawRepresentation.count == 32 else {
                throw TLSError(operation: "load an Ed25519 private key: \(rawRepresentation.count) bytes, not 32")
            }
            let key = OwnedPKey(owning: try Ed25519.load(rawRepresentation, private: true))
            self.rawRepresentation = rawRepresentation
            self.publicKey = try PublicKey(rawRepresentation: Ed25519.raw(key.pointer, private: false))
            self.key = key
        }

        /// The 64-byte signature of `message`.
        public func signature(for message: [UInt8]) throws -> [UInt8] {
            guard let context = EVP_MD_CTX_new() else { throw TLSError.fromQueue("create a signing context") }
            defer { EVP_MD_CTX_free(context) }
            var signature = [UInt8](repeating: 0, count: 64)
            var length = signature.count
            guard EVP_DigestSignInit(context, nil, nil, nil, self.key.pointer) == 1,
                EVP_DigestSign(context, &signature, &length, message, message.count) == 1, length == 64
            else { throw TLSError.fromQueue("sign with Ed25519") }
            return signature
        }

        /// Never the key.
        public var description: String { "Ed25519.PrivateKey(<redacted>, public: \(self.publicKey))" }
    }

    /// A public verification key.
    public struct PublicKey: Sendable, Hashable, CustomStringConvertible {
        /// The 32-byte encoded point.
        public let rawRepresentation: [UInt8]
        private let key: OwnedPKey

        /// The key with the 32-byte encoding `rawRepresentation`.
        public init(rawRepresentation: [UInt8]) throws {
            guard rawRepresentation.count == 32 else {
                throw TLSError(operation: "load an Ed25519 public key: \(rawRepresentation.count) bytes, not 32")
            }
            self.key = OwnedPKey(owning: try Ed25519.load(rawRepresentation, private: false))
            self.rawRepresentation = rawRepresentation
        }

        /// Keys are equal when their encodings are.
        public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
            lhs.rawRepresentation == rhs.rawRepresentation
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(self.rawRepresentation) }

        /// Whether `signature` is a valid signature of `message` under this key. Malformed input is
        /// simply invalid.
        public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
            guard signature.count == 64, let context = EVP_MD_CTX_new() else { return false }
            defer { EVP_MD_CTX_free(context) }
            guard EVP_DigestVerifyInit(context, nil, nil, nil, self.key.pointer) == 1 else {
                ERR_clear_error()
                return false
            }
            let valid = EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
            ERR_clear_error()
            return valid
        }

        /// The key in hex.
        public var description: String { "Ed25519.PublicKey(\(Hex.encode(self.rawRepresentation)))" }
    }

    static func load(_ bytes: [UInt8], private isPrivate: Bool) throws -> OpaquePointer {
        let key =
            isPrivate
            ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, bytes, bytes.count)
            : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, bytes, bytes.count)
        guard let key else { throw TLSError.fromQueue("load an Ed25519 key") }
        return key
    }

    static func raw(_ key: OpaquePointer, private isPrivate: Bool) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 32)
        var length = bytes.count
        let result =
            isPrivate
            ? EVP_PKEY_get_raw_private_key(key, &bytes, &length) : EVP_PKEY_get_raw_public_key(key, &bytes, &length)
        guard result == 1, length == 32 else { throw TLSError.fromQueue("read an Ed25519 key") }
        return bytes
    }
}
