/// Writes the protobuf binary encoding into a byte array.
public struct ProtoWriter: Sendable {
    /// What has been written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty writer.
    public init() {}

    /// A field's key: `(number << 3) | wireType`.
    public mutating func writeTag(_ fieldNumber: Int32, _ wireType: WireType) {
        self.writeVarint(UInt64(UInt32(bitPattern: fieldNumber)) << 3 | UInt64(wireType.rawValue))
    }

    /// A base-128 varint. Negative `int32`, `int64` and enum values are written as their 64-bit two's
    /// complement (ten bytes), as protobuf requires.
    public mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        self.bytes.append(UInt8(value))
    }

    /// Four little-endian bytes.
    public mutating func writeFixed32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { self.bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    /// Eight little-endian bytes.
    public mutating func writeFixed64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { self.bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    /// A varint length followed by `payload`.
    public mutating func writeLengthDelimited(_ payload: some Collection<UInt8>) {
        self.writeVarint(UInt64(payload.count))
        self.bytes.append(contentsOf: payload)
    }

    /// A UTF-8 string with its length.
    public mutating func writeString(_ text: String) {
        self.writeLengthDelimited(Array(text.utf8))
    }
}
