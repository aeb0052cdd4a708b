public import SkyportRPC

/// A test message whose encoding is its raw bytes, so transport and service tests need no generated code.
public struct Blob: ProtoMessage {
    /// The message name reported in decoding errors.
    public static let protoMessageName = "test.Blob"
    /// The encoded (and decoded) bytes.
    public var bytes: [UInt8] = []

    /// An empty message.
    public init() {}
    /// A message of `bytes`.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    /// A message of `text`'s UTF-8.
    public init(_ text: String) { self.bytes = Array(text.utf8) }
    /// Decodes: any bytes are valid.
    public init(serializedBytes: [UInt8]) throws { self.bytes = serializedBytes }
    /// Encodes.
    public func serializedBytes() -> [UInt8] { self.bytes }
    /// The bytes as UTF-8 text.
    public var text: String { String(decoding: self.bytes, as: UTF8.self) }
}
