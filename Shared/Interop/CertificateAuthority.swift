internal import COpenSSL
internal import SkyportRPC

/// A small certificate authority for development and tests: a self-signed EC P-256 CA that issues
/// leaf certificates usable by both servers and clients (mutual TLS).
///
/// Holds only PEM text, so it is a plain `Sendable` value; keys are parsed when issuing.
/// `description` never includes the private key.
public struct CertificateAuthority: Sendable, CustomStringConvertible {
    /// The CA certificate, PEM: the trust root to give servers and clients.
    public let certificatePEM: String
    /// The CA's private key, unencrypted PKCS#8 PEM. Keep it secret.
    public let privateKeyPEM: String

    /// A certificate issued by the CA, with its private key.
    public struct IssuedCertificate: Sendable, CustomStringConvertible {
        /// The leaf certificate, PEM.
        public let certificatePEM: String
        /// The leaf's private key, unencrypted PKCS#8 PEM. Keep it secret.
        public let privateKeyPEM: String

        /// The certificate's names; never the key.
        public var description: String {
            let identity = try? TLSIdentity(certificatePEM: self.certificatePEM)
            return "IssuedCertificate(\(identity.map { $0.allNames.joined(separator: ", ") } ?? "?"))"
        }
    }

    /// Loads an existing CA, checking that the key matches the certificate and that it is a CA.
    public init(certificatePEM: String, privateKeyPEM: String) throws {
        let certificate = try CertificateX509.loadAll(from: .string(certificatePEM), what: "CA certificate")[0]
        let key = try OwnedPKey.load(from: .string(privateKeyPEM))
        ERR_clear_error()
        guard X509_check_private_key(certificate.pointer, key.pointer) == 1 else {
            throw TLSError.fromQueue("load CA: the private key does not match the certificate")
        }
        guard X509_check_ca(certificate.pointer) != 0 else {
            throw TLSError(operation: "load CA: the certificate is not a CA certificate")
        }
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    private init(validatedCertificatePEM: String, privateKeyPEM: String) {
        self.certificatePEM = validatedCertificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// Creates a new self-signed CA with a fresh P-256 key: `basicConstraints=critical,CA:TRUE`,
    /// `keyUsage=critical,keyCertSign,cRLSign`, valid from an hour ago (clock skew) for `validityDays`.
    public static func create(
        commonName: String = "Skyport Development CA", validityDays: Int = 3650
    ) throws -> CertificateAuthority {
        let key = try OwnedPKey.generateP256()
        let certificate = try Self.makeCertificate(commonName: commonName, publicKey: key, validityDays: validityDays)
        guard X509_set_issuer_name(certificate.pointer, X509_get_subject_name(certificate.pointer)) == 1 else {
            throw TLSError.fromQueue("set CA issuer")
        }
        try Self.addExtension(certificate, issuer: certificate, nid: NID_basic_constraints, value: "critical,CA:TRUE")
        try Self.addExtension(
            certificate, issuer: certificate, nid: NID_key_usage, value: "critical,keyCertSign,cRLSign")
        try Self.addExtension(certificate, issuer: certificate, nid: NID_subject_key_identifier, value: "hash")
        try Self.sign(certificate, with: key)
        return CertificateAuthority(validatedCertificatePEM: try certificate.pem(), privateKeyPEM: try key.pkcs8PEM())
    }

    /// Issues a leaf certificate with a fresh P-256 key, for servers and clients alike
    /// (`extendedKeyUsage=serverAuth,clientAuth`).
    ///
    /// - Parameters:
    ///   - commonName: the subject CN, which mutual-TLS servers see as the client's identity.
    ///   - dnsNames: DNS SANs, e.g. `localhost`; what clients verify a server's host name against.
    ///   - ipAddresses: IP SANs in text form, e.g. `127.0.0.1`, `::1`.
    ///   - uris: URI SANs, e.g. `spiffe://skyport/service/auth`.
    ///   - validityDays: how long the certificate is valid (from an hour ago).
    /// - Throws: `TLSError` for an unparsable IP address or an OpenSSL failure.
    public func issue(
        commonName: String, dnsNames: [String] = [], ipAddresses: [String] = [], uris: [String] = [],
        validityDays: Int = 825
    ) throws -> IssuedCertificate {
        let caCertificate = try CertificateX509.loadAll(from: .string(self.certificatePEM), what: "CA certificate")[0]
        let caKey = try OwnedPKey.load(from: .string(self.privateKeyPEM))
        let key = try OwnedPKey.generateP256()
        let certificate = try Self.makeCertificate(commonName: commonName, publicKey: key, validityDays: validityDays)
        guard X509_set_issuer_name(certificate.pointer, X509_get_subject_name(caCertificate.pointer)) == 1 else {
            throw TLSError.fromQueue("set issuer")
        }
        try Self.addExtension(
            certificate, issuer: caCertificate, nid: NID_basic_constraints, value: "critical,CA:FALSE")
        try Self.addExtension(
            certificate, issuer: caCertificate, nid: NID_key_usage, value: "critical,digitalSignature")
        try Self.addExtension(
            certificate, issuer: caCertificate, nid: NID_ext_key_usage, value: "serverAuth,clientAuth")
        try Self.addExtension(certificate, issuer: caCertificate, nid: NID_subject_key_identifier, value: "hash")
        try Self.addExtension(
            certificate, issuer: caCertificate, nid: NID_authority_key_identifier, value: "keyid:always")
        if !(dnsNames.isEmpty && ipAddresses.isEmpty && uris.isEmpty) {
            try Self.addSubjectAlternativeNames(certificate, dnsNames: dnsNames, ipAddresses: ipAddresses, uris: uris)
        }
        try Self.sign(certificate, with: caKey)
        return IssuedCertificate(certificatePEM: try certificate.pem(), privateKeyPEM: try key.pkcs8PEM())
    }

    /// The CA's subject; never the key.
    public var description: String {
        let identity = try? TLSIdentity(certificatePEM: self.certificatePEM)
        return "CertificateAuthority(\(identity?.commonName ?? "?"))"
    }

    /// An unsigned v3 certificate with a random serial, the subject CN, validity and public key.
    private static func makeCertificate(
        commonName: String, publicKey: OwnedPKey, validityDays: Int
    ) throws -> CertificateX509 {
        guard validityDays > 0, validityDays <= 100 * 366 else {
            throw TLSError(operation: "create certificate: validityDays must be between 1 and 36600")
        }
        ERR_clear_error()
        guard let pointer = X509_new() else { throw TLSError.fromQueue("allocate certificate") }
        let certificate = CertificateX509(owning: pointer)
        // Version 3 is encoded as 2.
        guard X509_set_version(pointer, 2) == 1 else { throw TLSError.fromQueue("set certificate version") }
        try Self.setRandomSerial(certificate)
        guard X509_gmtime_adj(X509_getm_notBefore(pointer), -3600) != nil,
            X509_time_adj_ex(X509_getm_notAfter(pointer), Int32(validityDays), 0, nil) != nil
        else { throw TLSError.fromQueue("set validity") }
        guard X509_set_pubkey(pointer, publicKey.pointer) == 1 else { throw TLSError.fromQueue("set public key") }
        let subject = X509_get_subject_name(pointer)
        guard X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, commonName, -1, -1, 0) == 1 else {
            throw TLSError.fromQueue("set common name")
        }
        return certificate
    }

    /// A positive random 159-bit serial, as RFC 5280 recommends (unpredictable, at most 20 octets).
    private static func setRandomSerial(_ certificate: CertificateX509) throws {
        guard let number = BN_new() else { throw TLSError.fromQueue("allocate serial") }
        defer { BN_free(number) }
        guard BN_rand(number, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1,
            BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate.pointer)) != nil
        else { throw TLSError.fromQueue("set serial number") }
    }

    /// Adds an extension from OpenSSL's configuration syntax (fixed strings only: no user input).
    private static func addExtension(
        _ certificate: CertificateX509, issuer: CertificateX509, nid: Int32, value: String
    ) throws {
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer.pointer, certificate.pointer, nil, nil, 0)
        guard let extensionPointer = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
            throw TLSError.fromQueue("build extension \(value)")
        }
        defer { X509_EXTENSION_free(extensionPointer) }
        guard X509_add_ext(certificate.pointer, extensionPointer, -1) == 1 else {
            throw TLSError.fromQueue("add extension \(value)")
        }
    }

    /// Adds the SAN extension built name by name, so that names containing commas or other
    /// configuration syntax cannot inject extra entries.
    private static func addSubjectAlternativeNames(
        _ certificate: CertificateX509, dnsNames: [String], ipAddresses: [String], uris: [String]
    ) throws {
        guard let names = skyport_sk_GENERAL_NAME_new_null() else { throw TLSError.fromQueue("allocate SANs") }
        defer { GENERAL_NAMES_free(names) }
        func append(type: Int32, value: UnsafeMutablePointer<ASN1_STRING>) throws {
            guard let name = GENERAL_NAME_new() else {
                ASN1_STRING_free(value)
                throw TLSError.fromQueue("allocate SAN")
            }
            GENERAL_NAME_set0_value(name, type, UnsafeMutableRawPointer(value))
            guard skyport_sk_GENERAL_NAME_push(names, name) > 0 else {
                GENERAL_NAME_free(name)
                throw TLSError.fromQueue("add SAN")
            }
        }
        func ia5(_ text: String) throws -> UnsafeMutablePointer<ASN1_STRING> {
            guard let string = ASN1_IA5STRING_new() else { throw TLSError.fromQueue("allocate SAN string") }
            let bytes = Array(text.utf8)
            guard ASN1_STRING_set(string, bytes, Int32(bytes.count)) == 1 else {
                ASN1_STRING_free(string)
                throw TLSError.fromQueue("set SAN string")
            }
            return string
        }
        for dnsName in dnsNames { try append(type: GEN_DNS, value: try ia5(dnsName)) }
        for address in ipAddresses {
            ERR_clear_error()
            guard let octets = a2i_IPADDRESS(address) else {
                throw TLSError.fromQueue("add IP SAN: not an IP address: \(address)")
            }
            try append(type: GEN_IPADD, value: octets)
        }
        for uri in uris { try append(type: GEN_URI, value: try ia5(uri)) }
        guard X509_add1_ext_i2d(certificate.pointer, NID_subject_alt_name, UnsafeMutableRawPointer(names), 0, 0) == 1
        else { throw TLSError.fromQueue("add subjectAltName") }
    }

    private static func sign(_ certificate: CertificateX509, with key: OwnedPKey) throws {
        guard X509_sign(certificate.pointer, key.pointer, EVP_sha256()) > 0 else {
            throw TLSError.fromQueue("sign certificate")
        }
    }
}
