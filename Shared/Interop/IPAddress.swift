#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// IPv4 and IPv6 addresses in text form, parsed by the C library (`inet_pton`): the one parser every
/// module uses (address blocks, certificate names, client addresses).
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

    /// Whether `text` is one IPv4 or IPv6 address.
    public static func isAddress(_ text: String) -> Bool {
        self.bytes(text) != nil
    }
}
