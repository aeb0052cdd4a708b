internal import COpenSSL
internal import SkyportRPC

/// An owned OpenSSL `X509 *` certificate.
final class CertificateX509 {
    /// The owned `X509 *`.
    let pointer: OpaquePointer

    /// Takes ownership of a certificate pointer (one reference).
    init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        X509_free(self.pointer)
    }

    /// Every certificate in a PEM source, in order; throws when there is none.
    static func loadAll(from source: TLSConfiguration.PEMSource, what: String) throws -> [CertificateX509] {
        let bio = try CertificateBIO(reading: source)
        var certificates: [CertificateX509] = []
        ERR_clear_error()
        while let pointer = PEM_read_bio_X509(bio.pointer, nil, refusePEMPassword, nil) {
            certificates.append(CertificateX509(owning: pointer))
        }
        // Reading stops with a "no start line" error at the end of the input: expected, unless
        // nothing was read at all.
        if certificates.isEmpty { throw TLSError.fromQueue("load \(what): no PEM certificate found") }
        ERR_clear_error()
        return certificates
    }

    /// The certificate as PEM text.
    func pem() throws -> String {
        let bio = try CertificateBIO()
        guard PEM_write_bio_X509(bio.pointer, self.pointer) == 1 else { throw TLSError.fromQueue("encode certificate") }
        return bio.readAll()
    }

    /// The names the certificate asserts: subject common name, DNS and URI subject alternative names.
    func identity() -> TLSIdentity {
        var identity = TLSIdentity(commonName: self.commonName())
        guard let raw = X509_get_ext_d2i(self.pointer, NID_subject_alt_name, nil, nil) else { return identity }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        for index in 0..<skyport_sk_GENERAL_NAME_num(names) {
            guard let name = skyport_sk_GENERAL_NAME_value(names, index) else { continue }
            var type: Int32 = 0
            guard let value = GENERAL_NAME_get0_value(name, &type) else { continue }
            switch type {
            case GEN_DNS:
                identity.dnsNames.append(Self.string(value.assumingMemoryBound(to: ASN1_STRING.self)))
            case GEN_URI:
                identity.uris.append(Self.string(value.assumingMemoryBound(to: ASN1_STRING.self)))
            default:
                break
            }
        }
        return identity
    }

    /// The IP address subject alternative names, in text form (`127.0.0.1`, `::1`).
    func ipAddresses() -> [String] {
        guard let raw = X509_get_ext_d2i(self.pointer, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var addresses: [String] = []
        for index in 0..<skyport_sk_GENERAL_NAME_num(names) {
            guard let name = skyport_sk_GENERAL_NAME_value(names, index) else { continue }
            var type: Int32 = 0
            guard let value = GENERAL_NAME_get0_value(name, &type), type == GEN_IPADD else { continue }
            let string = value.assumingMemoryBound(to: ASN1_STRING.self)
            guard let data = ASN1_STRING_get0_data(string) else { continue }
            let bytes = Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
            if let text = Self.formatIPAddress(bytes) { addresses.append(text) }
        }
        return addresses
    }

    /// Dotted quad for IPv4; RFC 5952 text (lowercase, longest zero run as `::`) for IPv6.
    static func formatIPAddress(_ bytes: [UInt8]) -> String? {
        switch bytes.count {
        case 4:
            return bytes.map(String.init).joined(separator: ".")
        case 16:
            let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
            var best = (start: -1, length: 0)
            var run = (start: -1, length: 0)
            for (index, group) in groups.enumerated() {
                if group == 0 {
                    run = run.start < 0 ? (index, 1) : (run.start, run.length + 1)
                    if run.length > best.length { best = run }
                } else {
                    run = (-1, 0)
                }
            }
            let hex = groups.map { String($0, radix: 16) }
            guard best.length >= 2 else { return hex.joined(separator: ":") }
            let head = hex[..<best.start].joined(separator: ":")
            let tail = hex[(best.start + best.length)...].joined(separator: ":")
            return head + "::" + tail
        default:
            return nil
        }
    }

    private func commonName() -> String? {
        guard let subject = X509_get_subject_name(self.pointer) else { return nil }
        let index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(subject, index),
            let data = X509_NAME_ENTRY_get_data(entry)
        else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>? = nil
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return nil }
        defer { skyport_OPENSSL_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }

    private static func string(_ string: UnsafeMutablePointer<ASN1_STRING>) -> String {
        guard let data = ASN1_STRING_get0_data(string) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))), as: UTF8.self)
    }
}
