public import SkyportConfig
public import SkyportRPC
public import SkyportTokens
import SkyportInterop

/// The proxies allowed to state a client's address (`trusted-proxies`: comma-separated CIDRs, empty by
/// default), and how a redemption node finds the address of the client it serves.
///
/// Only a TCP peer inside one of these blocks may name the client in the `x-forwarded-for` request
/// metadata (its first entry); from anyone else the header is ignored and the peer itself is the client,
/// so a client cannot pose as another to pass a token's CIDR binding or to choose its route.
public struct TrustedProxies: ConfigValue, Hashable, CustomStringConvertible {
    /// The trusted blocks.
    public let blocks: [CIDR]

    /// Proxies from `blocks`.
    public init(_ blocks: [CIDR]) {
        self.blocks = blocks
    }

    /// The metadata key a trusted proxy names the client in.
    public static let forwardedForKey = "x-forwarded-for"

    /// Comma-separated CIDRs.
    public static var expectation: String { "comma-separated CIDR blocks, e.g. 10.0.0.0/8,2001:db8::/32 (or empty)" }

    /// `cidr,...`.
    public static var placeholder: String { "cidr,..." }

    /// Parses `10.0.0.0/8, 192.0.2.7`; empty text is no proxy; `nil` when a block is malformed.
    public static func parse(configText text: String) -> TrustedProxies? {
        var blocks: [CIDR] = []
        for item in text.split(separator: ",") {
            guard let block = CIDR(item.trimmingSpaces) else { return nil }
            blocks.append(block)
        }
        return TrustedProxies(blocks)
    }

    /// The blocks, comma-separated.
    public var configText: String { self.blocks.map(\.description).joined(separator: ",") }

    /// The same as `configText`.
    public var description: String { self.configText }

    /// The client's address (no port). When the peer is a trusted proxy, `x-forwarded-for` is read from
    /// the right (proxies append the address they saw): trusted proxies are skipped, and the first address
    /// that is not one is the client; entries left of it were written by the client and are ignored. A
    /// malformed entry there, or no header, leaves the peer's own address. `nil` when the peer has no IP
    /// address (an in-process call) and no trusted proxy spoke for it.
    public func clientAddress(peer: PeerInfo, metadata: Metadata) -> String? {
        guard let peerAddress = Self.address(ofPeer: peer.address) else { return nil }
        guard self.isTrusted(peerAddress), let forwarded = metadata[Self.forwardedForKey] else { return peerAddress }
        var client = peerAddress
        for entry in forwarded.split(separator: ",", omittingEmptySubsequences: false).reversed() {
            let candidate = entry.trimmingSpaces
            guard IPAddress.isAddress(candidate) else { return client }
            client = candidate
            if !self.isTrusted(candidate) { return candidate }
        }
        return client
    }

    private func isTrusted(_ address: String) -> Bool {
        self.blocks.contains { $0.contains(address) }
    }

    /// The IP address of a transport's peer description: `ipv4:127.0.0.1:51234` → `127.0.0.1`,
    /// `ipv6:[::1]:5` → `::1`; `nil` for anything else (e.g. `in-process`).
    public static func address(ofPeer peer: String) -> String? {
        if peer.hasPrefix("ipv4:") {
            let rest = peer.dropFirst(5)
            guard let colon = rest.lastIndex(of: ":") else {
                return IPAddress.isAddress(String(rest)) ? String(rest) : nil
            }
            let host = String(rest[..<colon])
            return IPAddress.isAddress(host) ? host : nil
        }
        if peer.hasPrefix("ipv6:") {
            var rest = peer.dropFirst(5)
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                rest = rest[rest.index(after: rest.startIndex)..<close]
            }
            let host = String(rest)
            return IPAddress.isAddress(host) ? host : nil
        }
        return nil
    }

}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
