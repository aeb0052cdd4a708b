internal import COpenSSL

/// One-shot message digests through OpenSSL's EVP interface.
public enum Digest {
    /// The SHA-256 digest of `bytes` (32 bytes).
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // EVP_Digest only fails on allocation failure or a broken provider; neither is recoverable.
        guard EVP_Digest(bytes, bytes.count, &output, &length, EVP_sha256(), nil) == 1 else {
            fatalError("EVP_Digest(SHA-256) failed: \(TLSError.drainErrorQueue())")
        }
        return Array(output.prefix(Int(length)))
    }

    /// HMAC-SHA-256 of `message` under `key` (32 bytes).
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // OpenSSL rejects a NULL key pointer with a zero length; an empty array may pass NULL.
        let keyBytes = key.isEmpty ? [0] : key
        guard HMAC(EVP_sha256(), keyBytes, Int32(key.count), message, message.count, &output, &length) != nil else {
            fatalError("HMAC(SHA-256) failed: \(TLSError.drainErrorQueue())")
        }
        return Array(output.prefix(Int(length)))
    }
}
