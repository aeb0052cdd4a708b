import Logging
import SkyportHTTP2

/// The tool's TLS connections to suite services, quiet (no transport logs), to a server whose
/// certificate must name `identity`.
enum OperatorTransport {
    /// As the operator: the `skyport` client certificate of the suite's development CA in `tlsDirectory`.
    static func connect(to address: String, identity: String, tlsDirectory tls: String) throws -> HTTP2ClientTransport {
        try Self.connect(
            to: address,
            tls: ClientTLS(
                trustRootsPath: tls + "/ca.pem", certificateChainPath: tls + "/skyport.pem",
                privateKeyPath: tls + "/skyport-key.pem", expectedServerIdentity: identity))
    }

    /// As a client of a public surface (redemption, a stream host's client port): no client certificate.
    static func connectPublic(to address: String, identity: String, trustRootsPath: String) throws
        -> HTTP2ClientTransport
    {
        try Self.connect(to: address, tls: ClientTLS(trustRootsPath: trustRootsPath, expectedServerIdentity: identity))
    }

    private static func connect(to address: String, tls: ClientTLS) throws -> HTTP2ClientTransport {
        guard let (host, port) = splitAddress(address) else { throw SuiteError("\(address) is not host:port") }
        var configuration = HTTP2ClientConfiguration()
        configuration.tls = tls
        var logger = Logger(label: "skyport")
        logger.logLevel = .critical
        return try HTTP2ClientTransport(host: host, port: port, configuration: configuration, logger: logger)
    }
}
