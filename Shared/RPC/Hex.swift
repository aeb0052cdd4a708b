/// Lower-case hexadecimal text for bytes (key ids, digests).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Two lower-case hex digits per byte.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(self.digits[Int(byte >> 4)])
            out.append(self.digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `byteCount` bytes from the system's generator, in hex (identifiers, request ids). Draws eight
    /// bytes per call to the generator: each call is a `getrandom` system call, and drawing byte by byte
    /// made identifiers a dozen system calls each.
    public static func random(byteCount: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount + 7)
        while bytes.count < byteCount {
            withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) }
        }
        return self.encode(Array(bytes.prefix(byteCount)))
    }
}
