/// A protocol-buffer message value that can be encoded to and decoded from the wire format.
///
/// Generated message types conform to it; the RPC core only ever sees messages through it.
public protocol ProtoMessage: Sendable, Equatable {
    /// The fully-qualified message name, e.g. `grpc.testing.SimpleRequest`.
    static var protoMessageName: String { get }
    /// A message with every field at its proto3 default.
    init()
    /// Decodes a message; unknown fields are skipped.
    ///
    /// - Throws: `ProtoDecodingError` when the bytes are not a valid encoding of this message.
    init(serializedBytes: [UInt8]) throws
    /// Encodes the message.
    func serializedBytes() -> [UInt8]
}

/// A message failed to decode.
public struct ProtoDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name of the message that failed to decode.
    public var messageName: String

    /// Creates the error.
    public init(messageName: String) {
        self.messageName = messageName
    }

    /// A one-line description.
    public var description: String { "invalid encoding of \(self.messageName)" }
}
