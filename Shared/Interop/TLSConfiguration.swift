/// How a `TLSContext` authenticates itself and its peers.
///
/// Fixed policy, not configurable: TLS 1.2 to 1.3, ECDHE with AEAD ciphers only for TLS 1.2
/// (what RFC 9113 allows for HTTP/2), no renegotiation, no compression, no session tickets,
/// no key logging.
public struct TLSConfiguration: Sendable {
    /// Which end of the connection this configuration is for.
    public enum Role: Sendable, Hashable {
        /// Accepts connections: presents its certificate, selects the application protocol.
        case server
        /// Opens connections: verifies the server's certificate and host name.
        case client
    }

    /// Where PEM text comes from: a file read when the context is built, or bytes in memory.
    public enum PEMSource: Sendable, Hashable, CustomStringConvertible {
        /// A PEM file's path.
        case file(String)
        /// PEM text as bytes.
        case bytes([UInt8])

        /// PEM text held as a string.
        public static func string(_ pem: String) -> PEMSource { .bytes(Array(pem.utf8)) }

        /// The path, or the byte count: never the contents, which may be a private key.
        public var description: String {
            switch self {
            case .file(let path): return "file(\(path))"
            case .bytes(let bytes): return "bytes(\(bytes.count) bytes)"
            }
        }
    }

    /// Server or client.
    public var role: Role
    /// This end's certificate, followed by any intermediates. Required for a server; for a client,
    /// only when the server requires client certificates.
    public var certificateChain: PEMSource?
    /// The private key of the first certificate in `certificateChain` (unencrypted PEM).
    public var privateKey: PEMSource?
    /// CA certificates that the peer's certificate must chain to. A client without them uses the
    /// system's default trust store; a server needs them to verify client certificates.
    public var trustRoots: PEMSource?
    /// Server only: demand a client certificate that chains to `trustRoots` (mutual TLS); the
    /// handshake fails when the client sends none or one from another CA.
    public var requireClientCertificate: Bool
    /// Client only: the name sent as SNI and checked against the server's certificate (DNS name,
    /// or IP address, which is checked against IP SANs and not sent as SNI). A `TLSConnection` may
    /// override it per connection, as gRPC's `--server_host_override` does.
    public var serverHostname: String?
    /// ALPN protocols, in preference order; gRPC needs `["h2"]`, the default. A server selects
    /// the first of these the client offers and otherwise ends the handshake with a
    /// `no_application_protocol` alert, also when the client offers no ALPN at all; a client
    /// fails the handshake when the server selects none.
    public var applicationProtocols: [String]

    /// Creates a configuration; see the `server` and `client` factories for the usual cases.
    public init(
        role: Role, certificateChain: PEMSource? = nil, privateKey: PEMSource? = nil,
        trustRoots: PEMSource? = nil, requireClientCertificate: Bool = false, serverHostname: String? = nil,
        applicationProtocols: [String] = ["h2"]
    ) {
        self.role = role
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.trustRoots = trustRoots
        self.requireClientCertificate = requireClientCertificate
        self.serverHostname = serverHostname
        self.applicationProtocols = applicationProtocols
    }

    /// A server presenting `certificateChain`; with `requireClientCertificate`, clients must present
    /// a certificate issued by `trustRoots`.
    public static func server(
        certificateChain: PEMSource, privateKey: PEMSource, trustRoots: PEMSource? = nil,
        requireClientCertificate: Bool = false
    ) -> TLSConfiguration {
        TLSConfiguration(
            role: .server, certificateChain: certificateChain, privateKey: privateKey, trustRoots: trustRoots,
            requireClientCertificate: requireClientCertificate)
    }

    /// A client verifying the server against `trustRoots` (or the system store) and `serverHostname`,
    /// presenting `certificateChain` when given (for mutual TLS).
    public static func client(
        serverHostname: String?, trustRoots: PEMSource? = nil, certificateChain: PEMSource? = nil,
        privateKey: PEMSource? = nil
    ) -> TLSConfiguration {
        TLSConfiguration(
            role: .client, certificateChain: certificateChain, privateKey: privateKey, trustRoots: trustRoots,
            serverHostname: serverHostname)
    }
}
