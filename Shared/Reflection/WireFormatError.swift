/// Bytes that are not a valid protobuf encoding. `offset` is the position in the buffer being read
/// where the problem was found.
public struct WireFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public enum Reason: Sendable, Hashable {
        /// The buffer ends inside a value.
        case truncated
        /// A varint longer than ten bytes.
        case varintTooLong
        /// A tag with wire type 6 or 7.
        case invalidWireType(UInt8)
        /// A tag with field number 0 or above 2^29 - 1.
        case invalidFieldNumber(UInt64)
        /// A length prefix pointing past the end of the buffer.
        case lengthOutOfBounds(UInt64)
        /// An end-group tag without its start, or a group that never ends.
        case unbalancedGroup
        /// Groups nested deeper than the reader allows.
        case nestingTooDeep
        /// A string field that is not valid UTF-8.
        case invalidUTF8
    }

    /// What is wrong.
    public var reason: Reason
    /// Where, in bytes from the start of the buffer.
    public var offset: Int

    /// Creates the error.
    public init(_ reason: Reason, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    /// A one-line description.
    public var description: String {
        let what =
            switch self.reason {
            case .truncated: "the data ends inside a value"
            case .varintTooLong: "varint longer than 10 bytes"
            case .invalidWireType(let type): "invalid wire type \(type)"
            case .invalidFieldNumber(let number): "invalid field number \(number)"
            case .lengthOutOfBounds(let length): "length \(length) runs past the end of the data"
            case .unbalancedGroup: "unbalanced group"
            case .nestingTooDeep: "nesting too deep"
            case .invalidUTF8: "string is not valid UTF-8"
            }
        return "malformed protobuf at byte \(self.offset): \(what)"
    }
}
