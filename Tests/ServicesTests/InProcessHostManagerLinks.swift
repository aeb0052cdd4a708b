import HostManagerService
import SkyportProto
import SkyportRPC
import StreamHostService
import Synchronization

/// How a host management under test reaches its stream hosts and peers: in process, each behind its
/// real access policy and called as the `hostmgr` identity (as over mutual TLS). Hosts and peers are
/// added after the service is built, so two host managements can be each other's peers.
final class InProcessHostManagerLinks: HostManagerLinks {
    let peerDatacentres: [String]
    private let hosts = Mutex<[String: InProcessServer]>([:])
    private let peers = Mutex<[String: InProcessServer]>([:])

    /// Links to the peers of `peerDatacentres` (reachable once ``link(_:to:)`` names their servers).
    init(peers peerDatacentres: [String] = []) {
        self.peerDatacentres = peerDatacentres
    }

    /// Serves `host` at its address behind the stream host's access policy.
    func serve(_ host: FakeStreamHost) {
        let server = InProcessServer(services: [host], policy: StreamHost.accessPolicy)
        self.hosts.withLock { $0[host.address] = server }
    }

    /// Makes the host management served by `server` the peer of `datacentre`.
    func link(_ datacentre: String, to server: InProcessServer) {
        self.peers.withLock { $0[datacentre] = server }
    }

    func streamHost(at address: String) throws -> Skyport_Streamhost_V1_StreamHostClient {
        guard let server = self.hosts.withLock({ $0[address] }) else {
            throw RPCError(code: .unavailable, message: "no stream host at \(address)")
        }
        return Skyport_Streamhost_V1_StreamHostClient(server.client(as: "hostmgr"))
    }

    func peer(_ datacentre: String) throws -> Skyport_Hostmgr_V1_HostManagerClient? {
        guard self.peerDatacentres.contains(datacentre), let server = self.peers.withLock({ $0[datacentre] }) else {
            return nil
        }
        return Skyport_Hostmgr_V1_HostManagerClient(server.client(as: "hostmgr"))
    }
}
