/// Percent-encoding of the `grpc-message` trailer, as the gRPC HTTP/2 specification defines it:
/// bytes outside 0x20–0x7E, and `%` itself, become `%XX` of the UTF-8 encoding.
public enum StatusMessageCoding {
    private static let hex = Array("0123456789ABCDEF".utf8)

    /// Percent-encodes a status message for the wire.
    public static func encode(_ message: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(message.utf8.count)
        for byte in message.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a received `grpc-message`. Malformed escapes are kept literally, as the specification
    /// asks receivers to do rather than fail the call; invalid UTF-8 becomes U+FFFD.
    public static func decode(_ wire: some StringProtocol) -> String {
        let bytes = Array(wire.utf8)
        guard bytes.contains(UInt8(ascii: "%")) else { return String(wire) }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
                let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2])
            {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
