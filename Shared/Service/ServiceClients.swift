public import Logging
public import SkyportConfig
import SkyportHTTP2
public import SkyportRPC
import Synchronization

/// Clients to other Skyport services: one HTTP/2 connection per address, over mutual TLS with this
/// service's certificate. Closed at shutdown.
public final class ServiceClients: Sendable {
    private let tls: CommonSettings.TLSFiles
    private let logger: Logger
    private let transports = Mutex<[HostAndPort: HTTP2ClientTransport]>([:])

    /// Creates the factory; no connection is made until a client is used.
    public init(tls: CommonSettings.TLSFiles, logger: Logger) {
        self.tls = tls
        self.logger = logger
    }

    /// A client for the service at `address`, sharing one connection per address.
    ///
    /// - Throws: `TLSError` when this service's certificate files cannot be loaded.
    public func client(for address: HostAndPort) throws -> RPCClient {
        let transport = try self.transports.withLock { transports in
            if let existing = transports[address] { return existing }
            var configuration = HTTP2ClientConfiguration()
            configuration.tls = ClientTLS(
                trustRootsPath: self.tls.ca, certificateChainPath: self.tls.certificate, privateKeyPath: self.tls.key)
            let created = try HTTP2ClientTransport(
                host: address.host, port: address.port, configuration: configuration, logger: self.logger)
            transports[address] = created
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
