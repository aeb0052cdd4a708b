internal import COpenSSL
public import SkyportRPC

extension TLSIdentity {
    /// The names in the first certificate of `certificatePEM`: subject common name, DNS and URI SANs.
    ///
    /// This only reads the certificate; it does not verify it. A connection's verified identity
    /// comes from `TLSConnection.peerIdentity`.
    public init(certificatePEM: String) throws {
        let certificate = try CertificateX509.loadAll(from: .string(certificatePEM), what: "certificate")[0]
        self = certificate.identity()
    }

    /// The IP address SANs in the first certificate of `certificatePEM` (`127.0.0.1`, `::1`).
    public static func ipAddresses(inCertificatePEM certificatePEM: String) throws -> [String] {
        try CertificateX509.loadAll(from: .string(certificatePEM), what: "certificate")[0].ipAddresses()
    }
}
