public import SkyportRPC

/// A message that is already encoded: lets messages built from descriptors at run time travel through
/// `RPCClient` (and any transport) as if they were generated types.
public struct RawMessage: ProtoMessage, Hashable {
    /// A placeholder: the real type is only known at run time, from the descriptors.
    public static let protoMessageName = "(dynamic message)"

    /// The encoded message.
    public var bytes: [UInt8]

    /// The empty message (every field at its default).
    public init() {
        self.bytes = []
    }

    /// Wraps encoded bytes.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Wraps encoded bytes as they are; they are only checked when decoded against a descriptor.
    public init(serializedBytes: [UInt8]) {
        self.bytes = serializedBytes
    }

    /// The bytes as they are.
    public func serializedBytes() -> [UInt8] {
        self.bytes
    }
}
