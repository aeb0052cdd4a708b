import SkyportRPC
import Testing

@testable import RedemptionService

@Suite struct TrustedProxiesTests {
    @Test func peerAddressesLoseTheirFamilyAndPort() {
        #expect(TrustedProxies.address(ofPeer: "ipv4:127.0.0.1:51234") == "127.0.0.1")
        #expect(TrustedProxies.address(ofPeer: "ipv6:[::1]:5") == "::1")
        #expect(TrustedProxies.address(ofPeer: "ipv6:[2001:db8::7]:443") == "2001:db8::7")
        #expect(TrustedProxies.address(ofPeer: "in-process") == nil)
        #expect(TrustedProxies.address(ofPeer: "ipv4:example.com:80") == nil)
    }

    @Test func parsingAcceptsCIDRListsAndEmpty() {
        #expect(TrustedProxies.parse(configText: "")?.blocks.isEmpty == true)
        #expect(TrustedProxies.parse(configText: "10.0.0.0/8, 2001:db8::/32")?.configText == "10.0.0.0/8,2001:db8::/32")
        #expect(TrustedProxies.parse(configText: "10.0.0.0/8,nonsense") == nil)
        #expect(TrustedProxies.parse(configText: "10.0.0.0/40") == nil)
    }

    @Test func onlyATrustedPeerNamesTheClient() {
        let proxies = TrustedProxies.parse(configText: "10.0.0.0/8,fd00::/8")!
        let forwarded: Metadata = ["x-forwarded-for": "198.51.100.7, 10.0.0.9"]
        // A trusted proxy: the rightmost entry that is not a trusted proxy is the client.
        #expect(
            proxies.clientAddress(peer: PeerInfo(address: "ipv4:10.1.2.3:4000"), metadata: forwarded) == "198.51.100.7")
        #expect(
            proxies.clientAddress(peer: PeerInfo(address: "ipv6:[fd00::1]:4000"), metadata: forwarded) == "198.51.100.7"
        )
        // Read from the right: what the client wrote itself (left of the address the proxy saw) is ignored.
        let forged: Metadata = ["x-forwarded-for": "203.0.113.66, 198.51.100.7, 10.0.0.9"]
        #expect(
            proxies.clientAddress(peer: PeerInfo(address: "ipv4:10.1.2.3:4000"), metadata: forged) == "198.51.100.7")
        // Only trusted proxies listed: the leftmost of them.
        #expect(
            proxies.clientAddress(
                peer: PeerInfo(address: "ipv4:10.1.2.3:4000"), metadata: ["x-forwarded-for": "10.0.0.9"])
                == "10.0.0.9")
        // Anyone else: the header is ignored, the peer is the client.
        #expect(
            proxies.clientAddress(peer: PeerInfo(address: "ipv4:192.0.2.1:4000"), metadata: forwarded) == "192.0.2.1")
        #expect(
            TrustedProxies([]).clientAddress(peer: PeerInfo(address: "ipv4:10.1.2.3:1"), metadata: forwarded)
                == "10.1.2.3")
        // A trusted proxy without the header, or with garbage in it: the peer.
        #expect(proxies.clientAddress(peer: PeerInfo(address: "ipv4:10.1.2.3:1"), metadata: [:]) == "10.1.2.3")
        #expect(
            proxies.clientAddress(peer: PeerInfo(address: "ipv4:10.1.2.3:1"), metadata: ["x-forwarded-for": "unknown"])
                == "10.1.2.3")
        #expect(proxies.clientAddress(peer: PeerInfo(address: "in-process"), metadata: forwarded) == nil)
    }
}
