/// The six wire types of the protobuf binary encoding (the low three bits of a field's tag).
public enum WireType: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// int32, int64, uint32, uint64, sint32, sint64, bool, enum.
    case varint = 0
    /// fixed64, sfixed64, double.
    case fixed64 = 1
    /// string, bytes, embedded messages, packed repeated fields.
    case lengthDelimited = 2
    /// The start of a proto2 group (deprecated; only ever skipped here).
    case startGroup = 3
    /// The end of a proto2 group.
    case endGroup = 4
    /// fixed32, sfixed32, float.
    case fixed32 = 5

    /// The name protobuf's documentation uses, e.g. `LEN`.
    public var description: String {
        switch self {
        case .varint: "VARINT"
        case .fixed64: "I64"
        case .lengthDelimited: "LEN"
        case .startGroup: "SGROUP"
        case .endGroup: "EGROUP"
        case .fixed32: "I32"
        }
    }
}

/// A field's key on the wire: its number and how its value is encoded.
public struct ProtoTag: Sendable, Hashable {
    /// The largest field number protobuf allows (2^29 - 1).
    public static let maxFieldNumber: Int32 = (1 << 29) - 1

    /// The field number, 1 through `maxFieldNumber`.
    public var fieldNumber: Int32
    /// The wire type of the value that follows.
    public var wireType: WireType

    /// Creates a tag.
    public init(fieldNumber: Int32, wireType: WireType) {
        self.fieldNumber = fieldNumber
        self.wireType = wireType
    }
}

/// ZigZag encoding of the `sint32` and `sint64` types: small magnitudes of either sign become small varints.
public enum ZigZag {
    /// Encodes a signed 32-bit value.
    public static func encode(_ value: Int32) -> UInt32 {
        UInt32(bitPattern: (value << 1) ^ (value >> 31))
    }

    /// Encodes a signed 64-bit value.
    public static func encode(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    /// Decodes a 32-bit value.
    public static func decode(_ value: UInt32) -> Int32 {
        Int32(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }

    /// Decodes a 64-bit value.
    public static func decode(_ value: UInt64) -> Int64 {
        Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }
}
