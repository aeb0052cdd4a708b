import SkyportConfig
import SkyportProto
import SkyportRPC
import SkyportService

/// How the node reaches a data centre's host management.
protocol HostManagerConnector: Sendable {
    /// A client for the host management at `address` (`host:port`).
    func hostManager(at address: String) throws -> Skyport_Hostmgr_V1_HostManagerClient
}

/// Host managements over mutual TLS with this node's certificate; the server must prove the `hostmgr`
/// identity. One connection per address, shared by probes and forwards.
struct MutualTLSHostManagers: HostManagerConnector {
    let clients: ServiceClients

    func hostManager(at address: String) throws -> Skyport_Hostmgr_V1_HostManagerClient {
        guard let parsed = HostAndPort.parse(configText: address) else {
            throw RPCError(code: .internal, message: "host management address \(address) is not host:port")
        }
        return Skyport_Hostmgr_V1_HostManagerClient(try self.clients.client(for: "hostmgr", at: parsed))
    }
}
