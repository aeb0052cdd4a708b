public import SkyportInterop

/// Server TLS from PEM files: the certificate chain and key, and optionally a CA whose client
/// certificates are required (mutual TLS).
public struct ServerTLS: Sendable {
    /// The underlying OpenSSL configuration.
    public var configuration: TLSConfiguration

    /// TLS from PEM files; with `clientCAPath`, clients must present a certificate issued by that CA.
    public init(certificateChainPath: String, privateKeyPath: String, clientCAPath: String? = nil) {
        self.configuration = TLSConfiguration.server(
            certificateChain: .file(certificateChainPath), privateKey: .file(privateKeyPath),
            trustRoots: clientCAPath.map { .file($0) }, requireClientCertificate: clientCAPath != nil)
    }

    /// TLS from a full configuration.
    public init(configuration: TLSConfiguration) {
        self.configuration = configuration
    }
}
