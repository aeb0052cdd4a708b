public import Logging
public import SkyportConfig
public import SkyportProto
import SkyportRPC
public import SkyportService

/// Asks data centres' host managements to create sessions and to deploy application versions (an
/// interface, so the service can be tested without sockets).
public protocol SessionCreator: Sendable {
    /// The data centres there are host managements for.
    var datacentres: [String] { get }

    /// Creates a session in `datacentre`.
    ///
    /// - Throws: `RPCError`: FAILED_PRECONDITION for a data centre with no known host management, or
    ///   the host management's status.
    func createSession(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_CreateSessionRequest
    ) async throws -> Skyport_Hostmgr_V1_CreateSessionResponse

    /// Deploys an application version in `datacentre`.
    func deployVersion(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_DeployVersionRequest
    ) async throws -> Skyport_Hostmgr_V1_DeployVersionResponse
}

/// The host managements of the configured data centres, over mutual TLS.
public struct HostManagerDirectory: SessionCreator {
    /// Data centre → host management address.
    public let addresses: DatacentreAddresses
    let clients: ServiceClients
    let logger: Logger

    /// A directory over `addresses`, calling through `clients`.
    public init(addresses: DatacentreAddresses, clients: ServiceClients, logger: Logger) {
        self.addresses = addresses
        self.clients = clients
        self.logger = logger
    }

    public var datacentres: [String] { self.addresses.datacentres }

    public func createSession(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_CreateSessionRequest
    ) async throws -> Skyport_Hostmgr_V1_CreateSessionResponse {
        try await self.call(datacentre, doing: "creating a session") { client in
            try await client.createSession(request, options: CallOptions(timeout: .seconds(5)))
        }
    }

    public func deployVersion(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_DeployVersionRequest
    ) async throws -> Skyport_Hostmgr_V1_DeployVersionResponse {
        try await self.call(datacentre, doing: "deploying a version") { client in
            try await client.deployVersion(request, options: CallOptions(timeout: .seconds(10)))
        }
    }

    /// Calls the host management of `datacentre`. INVALID_ARGUMENT passes through; any other failure
    /// reaches the developer as a plain UNAVAILABLE, with the details (addresses, identities, transport
    /// errors) in the log only.
    func call<T: Sendable>(
        _ datacentre: String, doing what: String,
        _ body: (Skyport_Hostmgr_V1_HostManagerClient) async throws -> T
    ) async throws -> T {
        guard let address = self.addresses[datacentre] else {
            throw RPCError(
                code: .failedPrecondition, message: "no host management is configured for data centre \(datacentre)")
        }
        do {
            return try await body(
                Skyport_Hostmgr_V1_HostManagerClient(try self.clients.client(for: "hostmgr", at: address)))
        } catch let error as RPCError where error.code == .invalidArgument {
            throw error
        } catch {
            self.logger.error("\(what) failed", metadata: ["datacentre": "\(datacentre)", "error": "\(error)"])
            throw RPCError(code: .unavailable, message: "the host management of \(datacentre) is unavailable; retry")
        }
    }
}
