internal import SkyportInterop

/// An IPv4 or IPv6 address block, e.g. `203.0.113.0/24` or `2001:db8::/32`; a plain address is a
/// block of one.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network address bytes (4 or 16), host bits cleared.
    public let network: [UInt8]
    /// The prefix length in bits.
    public let prefixLength: Int

    /// Parses `text`; `nil` when it is not an address or address/prefix of a valid length.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress.bytes(String(parts[0])) else { return nil }
        let maximum = address.count * 8
        var length = maximum
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...maximum).contains(parsed), parts[1].allSatisfy(\.isNumber) else {
                return nil
            }
            length = parsed
        }
        self.network = Self.masked(address, prefixLength: length)
        self.prefixLength = length
    }

    /// Whether `address` (an IPv4 or IPv6 address, without port) is inside the block. An IPv4 address
    /// written as IPv4-mapped IPv6 (`::ffff:203.0.113.7`) counts as IPv4.
    public func contains(_ address: String) -> Bool {
        guard var bytes = IPAddress.bytes(address) else { return false }
        if bytes.count == 16, self.network.count == 4, bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
            bytes = Array(bytes.suffix(4))
        }
        guard bytes.count == self.network.count else { return false }
        return Self.masked(bytes, prefixLength: self.prefixLength) == self.network
    }

    /// `address/prefix`.
    public var description: String {
        (IPAddress.text(self.network) ?? "?") + "/\(self.prefixLength)"
    }

    static func masked(_ bytes: [UInt8], prefixLength: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = max(0, min(8, prefixLength - index * 8))
            return bits == 8 ? byte : byte & ~(0xFF >> UInt8(bits))
        }
    }
}
