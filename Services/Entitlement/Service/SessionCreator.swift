public import Logging
public import SkyportConfig
public import SkyportProto
import SkyportRPC
public import SkyportService

/// Asks a data centre's host management to create a session (an interface, so the service can be
/// tested without sockets).
public protocol SessionCreator: Sendable {
    /// Whether sessions can be created in `datacentre` (applications may only be homed there).
    func knows(_ datacentre: String) -> Bool

    /// Creates a session in `datacentre`.
    ///
    /// - Throws: `RPCError`: FAILED_PRECONDITION for a data centre with no known host management, or
    ///   the host management's status.
    func createSession(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_CreateSessionRequest
    ) async throws -> Skyport_Hostmgr_V1_CreateSessionResponse
}

/// The host managements of the configured data centres, over mutual TLS.
public struct HostManagerDirectory: SessionCreator {
    /// Data centre → host management address.
    public let addresses: [String: HostAndPort]
    let clients: ServiceClients
    let logger: Logger

    /// A directory over `addresses`, calling through `clients`.
    public init(addresses: [String: HostAndPort], clients: ServiceClients, logger: Logger) {
        self.addresses = addresses
        self.clients = clients
        self.logger = logger
    }

    public func knows(_ datacentre: String) -> Bool {
        self.addresses[datacentre] != nil
    }

    /// Parses `dc1=host:port,dc2=host:port`; `nil` when an entry is malformed.
    public static func parse(_ text: String) -> [String: HostAndPort]? {
        var addresses: [String: HostAndPort] = [:]
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, let address = HostAndPort.parse(configText: String(parts[1]))
            else { return nil }
            addresses[String(parts[0])] = address
        }
        return addresses.isEmpty ? nil : addresses
    }

    public func createSession(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_CreateSessionRequest
    ) async throws -> Skyport_Hostmgr_V1_CreateSessionResponse {
        guard let address = self.addresses[datacentre] else {
            throw RPCError(
                code: .failedPrecondition, message: "no host management is configured for data centre \(datacentre)")
        }
        do {
            let client = Skyport_Hostmgr_V1_HostManagerClient(try self.clients.client(for: "hostmgr", at: address))
            return try await client.createSession(request, options: CallOptions(timeout: .seconds(5)))
        } catch let error as RPCError where error.code == .invalidArgument {
            throw error
        } catch {
            // Internal details (addresses, identities, transport errors) stay in the log, not in the answer
            // to the developer.
            self.logger.error(
                "creating a session failed", metadata: ["datacentre": "\(datacentre)", "error": "\(error)"])
            throw RPCError(code: .unavailable, message: "the host management of \(datacentre) is unavailable; retry")
        }
    }
}
