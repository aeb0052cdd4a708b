internal import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's `RAND_bytes`.
public enum SecureRandom {
    /// `count` random bytes.
    ///
    /// - Throws: `TLSError` when OpenSSL's generator is not seeded or fails.
    public static func bytes(count: Int) throws -> [UInt8] {
        precondition(count >= 0, "count must not be negative")
        var bytes = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return bytes }
        ERR_clear_error()
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw TLSError.fromQueue("generate random bytes") }
        return bytes
    }
}
