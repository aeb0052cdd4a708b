import Logging
import SkyportHTTP2

/// Connections as the operator: TLS to a suite service with the `skyport` client certificate of the
/// suite's development CA, to a server whose certificate must name `identity`.
enum OperatorTransport {
    /// A quiet connection to `address`, with the certificates in `tlsDirectory`.
    static func connect(to address: String, identity: String, tlsDirectory tls: String) throws -> HTTP2ClientTransport {
        guard let (host, port) = splitAddress(address) else { throw SuiteError("\(address) is not host:port") }
        var configuration = HTTP2ClientConfiguration()
        configuration.tls = ClientTLS(
            trustRootsPath: tls + "/ca.pem", certificateChainPath: tls + "/skyport.pem",
            privateKeyPath: tls + "/skyport-key.pem", expectedServerIdentity: identity)
        var logger = Logger(label: "skyport")
        logger.logLevel = .critical
        return try HTTP2ClientTransport(host: host, port: port, configuration: configuration, logger: logger)
    }
}
