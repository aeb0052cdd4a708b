/// Reads the protobuf binary encoding, one value at a time. Every read is bounds-checked: malformed
/// input throws `WireFormatError`, it never traps.
public struct ProtoReader: Sendable {
    /// How deeply groups may nest while being skipped.
    static let maxGroupDepth = 100

    private let bytes: ArraySlice<UInt8>
    private var index: Int

    /// A reader over `bytes`.
    public init(_ bytes: [UInt8]) {
        self.init(bytes[...])
    }

    /// A reader over a slice; offsets in errors are indices of the slice's base buffer.
    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { self.index >= self.bytes.endIndex }

    /// The position of the next read (an index of the base buffer).
    public var offset: Int { self.index }

    /// The next field's tag, or `nil` at the end of the buffer.
    public mutating func readTag() throws -> ProtoTag? {
        guard !self.isAtEnd else { return nil }
        let start = self.index
        let key = try self.readVarint()
        guard let wireType = WireType(rawValue: UInt8(key & 7)) else {
            throw WireFormatError(.invalidWireType(UInt8(key & 7)), offset: start)
        }
        let number = key >> 3
        guard number >= 1, number <= UInt64(ProtoTag.maxFieldNumber) else {
            throw WireFormatError(.invalidFieldNumber(number), offset: start)
        }
        return ProtoTag(fieldNumber: Int32(number), wireType: wireType)
    }

    /// A base-128 varint of up to ten bytes.
    public mutating func readVarint() throws -> UInt64 {
        let start = self.index
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard self.index < self.bytes.endIndex else { throw WireFormatError(.truncated, offset: start) }
            let byte = self.bytes[self.index]
            self.index += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            // The tenth byte carries bit 63; an eleventh would be garbage.
            guard shift < 70 else { throw WireFormatError(.varintTooLong, offset: start) }
        }
    }

    /// Four little-endian bytes.
    public mutating func readFixed32() throws -> UInt32 {
        let raw = try self.take(4)
        var value: UInt32 = 0
        for (shift, byte) in raw.enumerated() { value |= UInt32(byte) << (8 * UInt32(shift)) }
        return value
    }

    /// Eight little-endian bytes.
    public mutating func readFixed64() throws -> UInt64 {
        let raw = try self.take(8)
        var value: UInt64 = 0
        for (shift, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        return value
    }

    /// A varint length followed by that many bytes (strings, bytes, messages, packed fields).
    public mutating func readLengthDelimited() throws -> ArraySlice<UInt8> {
        let start = self.index
        let length = try self.readVarint()
        guard length <= UInt64(self.bytes.endIndex - self.index) else {
            throw WireFormatError(.lengthOutOfBounds(length), offset: start)
        }
        return try self.take(Int(length))
    }

    /// A length-delimited value that must be valid UTF-8.
    public mutating func readString() throws -> String {
        let start = self.index
        let raw = try self.readLengthDelimited()
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw WireFormatError(.invalidUTF8, offset: start)
        }
        return text
    }

    /// Skips the value of a field whose tag was just read (a whole group for `startGroup`).
    public mutating func skipValue(of tag: ProtoTag) throws {
        switch tag.wireType {
        case .varint: _ = try self.readVarint()
        case .fixed64: _ = try self.take(8)
        case .fixed32: _ = try self.take(4)
        case .lengthDelimited: _ = try self.readLengthDelimited()
        case .endGroup: throw WireFormatError(.unbalancedGroup, offset: self.index)
        case .startGroup:
            // Iterative, so hostile nesting costs memory in an array rather than stack.
            var open: [Int32] = [tag.fieldNumber]
            while let last = open.last {
                guard let inner = try self.readTag() else {
                    throw WireFormatError(.unbalancedGroup, offset: self.index)
                }
                switch inner.wireType {
                case .startGroup:
                    guard open.count < Self.maxGroupDepth else {
                        throw WireFormatError(.nestingTooDeep, offset: self.index)
                    }
                    open.append(inner.fieldNumber)
                case .endGroup:
                    guard inner.fieldNumber == last else { throw WireFormatError(.unbalancedGroup, offset: self.index) }
                    open.removeLast()
                default:
                    try self.skipValue(of: inner)
                }
            }
        }
    }

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count <= self.bytes.endIndex - self.index else { throw WireFormatError(.truncated, offset: self.index) }
        defer { self.index += count }
        return self.bytes[self.index..<self.index + count]
    }
}
