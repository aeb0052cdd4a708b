#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// IPv4 and IPv6 addresses in text form, parsed and printed by the C library (`inet_pton`, `inet_ntop`):
/// one place for address blocks, development certificates' names and client addresses.
public enum IPAddress {
    /// The 4 bytes of an IPv4 or the 16 bytes of an IPv6 address; `nil` for anything else (a block, a
    /// host name, an address with a zone or port).
    public static func bytes(_ text: String) -> [UInt8]? {
        var v4 = [UInt8](repeating: 0, count: 4)
        if inet_pton(AF_INET, text, &v4) == 1 { return v4 }
        var v6 = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET6, text, &v6) == 1 { return v6 }
        return nil
    }

    /// The text of a 4-byte IPv4 or 16-byte IPv6 address (IPv6 in its shortest form); `nil` for any other
    /// length.
    public static func text(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        guard bytes.withUnsafeBytes({ inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }) != nil else {
            return nil
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether `text` is one IPv4 or IPv6 address.
    public static func isAddress(_ text: String) -> Bool {
        self.bytes(text) != nil
    }
}
