public import SkyportInterop

/// Client TLS: the CA that signs the server's certificate, an optional client certificate (mutual
/// TLS), and the name to verify the server's certificate against.
public struct ClientTLS: Sendable {
    /// The underlying OpenSSL configuration.
    public var configuration: TLSConfiguration
    /// When set, the server's verified certificate must name this service (its common name, or a URI
    /// SAN `spiffe://<trust domain>/<name>`); otherwise the connection is closed and calls fail with
    /// UNAVAILABLE. Internal clients set it, so one service's key cannot pose as another service.
    public var expectedServerIdentity: String?
    /// The SPIFFE trust domain of ``expectedServerIdentity``'s URI form.
    public var trustDomain = "skyport.local"

    /// TLS from PEM files. `serverHostname` overrides the name checked against the certificate (and
    /// sent as SNI); by default the target host is used.
    public init(
        trustRootsPath: String?, certificateChainPath: String? = nil, privateKeyPath: String? = nil,
        serverHostname: String? = nil, expectedServerIdentity: String? = nil
    ) {
        self.expectedServerIdentity = expectedServerIdentity
        self.configuration = TLSConfiguration.client(
            serverHostname: serverHostname, trustRoots: trustRootsPath.map { .file($0) },
            certificateChain: certificateChainPath.map { .file($0) }, privateKey: privateKeyPath.map { .file($0) })
    }

    /// TLS from a full configuration.
    public init(configuration: TLSConfiguration, expectedServerIdentity: String? = nil) {
        self.configuration = configuration
        self.expectedServerIdentity = expectedServerIdentity
    }
}
