public import SkyportInterop

/// Limits and timeouts of the HTTP/2 server, with defaults fit for an internet-facing service.
///
/// Every limit protects memory or time against a hostile peer; the comments name what each bounds.
public struct HTTP2ServerConfiguration: Sendable {
    /// HTTP/2 settings and nghttp2 flood protections (max concurrent streams, header list size,
    /// windows, rapid-reset and CONTINUATION limits).
    public var session = HTTP2SessionSettings()
    /// The largest request message accepted; larger ones end the call with RESOURCE_EXHAUSTED before
    /// any of it is buffered.
    public var maxReceiveMessageSize = 4 * 1024 * 1024
    /// Bytes of received request data buffered per connection before the connection window stops
    /// reopening (the peer then waits for handlers to read).
    public var maxBufferedBytesPerConnection = 32 * 1024 * 1024
    /// Bytes of complete, unread messages per stream before the stream window stops reopening.
    public var maxBufferedBytesPerStream = 256 * 1024
    /// Bytes of response data queued per stream before a handler's `write` suspends.
    public var maxQueuedBytesPerStream = 256 * 1024
    /// How long a new connection has to complete TLS and send the HTTP/2 preface.
    public var handshakeTimeout: Duration = .seconds(10)
    /// How long a connection may stay open with no active stream.
    public var idleTimeout: Duration = .seconds(300)
    /// How long in-flight calls get to finish after a graceful shutdown starts.
    public var shutdownGracePeriod: Duration = .seconds(5)

    /// The defaults.
    public init() {}
}

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

/// Client TLS: the CA that signs the server's certificate, an optional client certificate (mutual
/// TLS), and the name to verify the server's certificate against.
public struct ClientTLS: Sendable {
    /// The underlying OpenSSL configuration.
    public var configuration: TLSConfiguration

    /// TLS from PEM files. `serverHostname` overrides the name checked against the certificate (and
    /// sent as SNI); by default the target host is used.
    public init(trustRootsPath: String?, certificateChainPath: String? = nil, privateKeyPath: String? = nil,
                serverHostname: String? = nil) {
        self.configuration = TLSConfiguration.client(
            serverHostname: serverHostname, trustRoots: trustRootsPath.map { .file($0) },
            certificateChain: certificateChainPath.map { .file($0) }, privateKey: privateKeyPath.map { .file($0) })
    }

    /// TLS from a full configuration.
    public init(configuration: TLSConfiguration) {
        self.configuration = configuration
    }
}
