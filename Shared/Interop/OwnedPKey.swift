internal import COpenSSL

/// An owned OpenSSL `EVP_PKEY *` (a certificate's private key, an Ed25519 key), freed with the last
/// reference. Never printed or logged. Read-only once made, so shared across threads: OpenSSL allows
/// concurrent signing and verifying with one key.
final class OwnedPKey: @unchecked Sendable {
    /// The owned `EVP_PKEY *`.
    let pointer: OpaquePointer

    /// Takes ownership of a key pointer (one reference).
    init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(self.pointer)
    }

    /// A new EC key on the P-256 curve.
    static func generateP256() throws -> OwnedPKey {
        ERR_clear_error()
        guard let pointer = skyport_EVP_EC_gen_P256() else { throw TLSError.fromQueue("generate EC P-256 key") }
        return OwnedPKey(owning: pointer)
    }

    /// The first private key in a PEM source (PKCS#8 or traditional; unencrypted).
    static func load(from source: TLSConfiguration.PEMSource) throws -> OwnedPKey {
        let bio = try CertificateBIO(reading: source)
        ERR_clear_error()
        guard let pointer = PEM_read_bio_PrivateKey(bio.pointer, nil, refusePEMPassword, nil) else {
            throw TLSError.fromQueue("load private key (it must be unencrypted PEM)")
        }
        return OwnedPKey(owning: pointer)
    }

    /// The key as unencrypted PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    func pkcs8PEM() throws -> String {
        let bio = try CertificateBIO()
        guard PEM_write_bio_PrivateKey(bio.pointer, self.pointer, nil, nil, 0, nil, nil) == 1 else {
            throw TLSError.fromQueue("encode private key")
        }
        return bio.readAll()
    }
}
