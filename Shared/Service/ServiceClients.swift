public import Logging
public import SkyportConfig
import SkyportHTTP2
public import SkyportRPC
import Synchronization

/// Clients to other Skyport services: one HTTP/2 connection per address, over mutual TLS with this
/// service's certificate, to a server whose certificate must name the service asked for. Closed at
/// shutdown.
public final class ServiceClients: Sendable {
    private let tls: CommonSettings.TLSFiles
    private let logger: Logger
    private let transports = Mutex<[String: HTTP2ClientTransport]>([:])

    /// Creates the factory; no connection is made until a client is used.
    public init(tls: CommonSettings.TLSFiles, logger: Logger) {
        self.tls = tls
        self.logger = logger
    }

    /// A client for `service` (its identity, e.g. `hostmgr`) at `address`, sharing one transport per
    /// address and service (one connection per event loop). A server whose certificate names another
    /// service is refused (UNAVAILABLE).
    ///
    /// - Throws: `TLSError` when this service's certificate files cannot be loaded.
    public func client(for service: String, at address: HostAndPort) throws -> RPCClient {
        let key = "\(service)@\(address)"
        let transport = try self.transports.withLock { transports in
            if let existing = transports[key] { return existing }
            var configuration = HTTP2ClientConfiguration()
            configuration.tls = ClientTLS(
                trustRootsPath: self.tls.ca, certificateChainPath: self.tls.certificate, privateKeyPath: self.tls.key,
                expectedServerIdentity: service)
            let created = try HTTP2ClientTransport(
                host: address.host, port: address.port, configuration: configuration, logger: self.logger)
            transports[key] = created
            return created
        }
        return RPCClient(transport: transport)
    }

    /// Closes every connection.
    public func closeAll() async {
        let all = self.transports.withLock { transports in
            defer { transports.removeAll() }
            return Array(transports.values)
        }
        for transport in all { await transport.close() }
    }
}
