public import SkyportInterop

/// Client TLS: the CA that signs the server's certificate, an optional client certificate (mutual
/// TLS), and the name to verify the server's certificate against.
public struct ClientTLS: Sendable {
    /// The underlying OpenSSL configuration.
    public var configuration: TLSConfiguration

    /// TLS from PEM files. `serverHostname` overrides the name checked against the certificate (and
    /// sent as SNI); by default the target host is used.
    public init(
        trustRootsPath: String?, certificateChainPath: String? = nil, privateKeyPath: String? = nil,
        serverHostname: String? = nil
    ) {
        self.configuration = TLSConfiguration.client(
            serverHostname: serverHostname, trustRoots: trustRootsPath.map { .file($0) },
            certificateChain: certificateChainPath.map { .file($0) }, privateKey: privateKeyPath.map { .file($0) })
    }

    /// TLS from a full configuration.
    public init(configuration: TLSConfiguration) {
        self.configuration = configuration
    }
}
