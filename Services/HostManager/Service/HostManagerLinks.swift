public import SkyportConfig
public import SkyportProto
import SkyportRPC
public import SkyportService
import Synchronization

/// How host management reaches the others it works with: the stream hosts of its data centre and the
/// host managements of its peers (an interface, so placement can be tested without sockets).
public protocol HostManagerLinks: Sendable {
    /// The data centres of the peers, in configured order.
    var peerDatacentres: [String] { get }

    /// A client of the stream host at `address` (host:port).
    func streamHost(at address: String) throws -> Skyport_Streamhost_V1_StreamHostClient

    /// A client of the host management of `datacentre`; `nil` when it is not a known peer.
    func peer(_ datacentre: String) throws -> Skyport_Hostmgr_V1_HostManagerClient?
}

/// The links of a running service: mutual TLS through its ``ServiceClients`` (one transport per
/// address), to stream hosts by the address they registered and to the configured peers.
public struct ServiceHostManagerLinks: HostManagerLinks {
    let peers: DatacentreAddresses
    let clients: ServiceClients

    /// Links through `clients` to `peers`.
    public init(peers: DatacentreAddresses, clients: ServiceClients) {
        self.peers = peers
        self.clients = clients
    }

    public var peerDatacentres: [String] { self.peers.datacentres }

    public func streamHost(at address: String) throws -> Skyport_Streamhost_V1_StreamHostClient {
        guard let parsed = HostAndPort.parse(configText: address) else {
            throw RPCError(code: .internal, message: "host address \(address) is not host:port")
        }
        return Skyport_Streamhost_V1_StreamHostClient(try self.clients.client(for: "streamhost", at: parsed))
    }

    public func peer(_ datacentre: String) throws -> Skyport_Hostmgr_V1_HostManagerClient? {
        guard let address = self.peers[datacentre] else { return nil }
        return Skyport_Hostmgr_V1_HostManagerClient(try self.clients.client(for: "hostmgr", at: address))
    }
}

/// The latest capacity summary of each peer data centre, as the peer exchange last fetched it.
public final class PeerCapacity: Sendable {
    private let summaries = Mutex<[String: Skyport_Hostmgr_V1_CapacitySummary]>([:])

    /// An empty table.
    public init() {}

    /// Records the summary of a peer.
    public func update(_ summary: Skyport_Hostmgr_V1_CapacitySummary) {
        self.summaries.withLock { $0[summary.datacentre] = summary }
    }

    /// Forgets a peer that stopped answering.
    public func forget(_ datacentre: String) {
        self.summaries.withLock { _ = $0.removeValue(forKey: datacentre) }
    }

    /// The summaries known now, by data centre.
    public var all: [String: Skyport_Hostmgr_V1_CapacitySummary] { self.summaries.withLock { $0 } }
}
