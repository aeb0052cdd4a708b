/// A `google.protobuf.EnumDescriptorProto`.
public struct EnumDescriptor: Sendable, Hashable {
    /// One named value.
    public struct Value: Sendable, Hashable {
        /// The value's name, e.g. `USAGE_KIND_SESSION_SECONDS`.
        public var name: String
        /// Its number.
        public var number: Int32
    }

    /// The short name, e.g. `Color`.
    public var name: String
    /// The fully-qualified name, e.g. `skyport.testing.v1.Everything.Color`.
    public var fullName: String
    /// The values in declaration order.
    public var values: [Value]

    /// The value called `name`.
    public func value(named name: String) -> Value? {
        self.values.first { $0.name == name }
    }

    /// The first value declared with `number` (aliases share numbers).
    public func value(number: Int32) -> Value? {
        self.values.first { $0.number == number }
    }

    init(parsing bytes: ArraySlice<UInt8>, scope: String) throws {
        var name = ""
        var values: [Value] = []
        var reader = ProtoReader(bytes)
        while let tag = try reader.readTag() {
            switch (tag.fieldNumber, tag.wireType) {
            case (1, .lengthDelimited): name = try reader.readString()
            case (2, .lengthDelimited): values.append(try Self.parseValue(reader.readLengthDelimited()))
            default: try reader.skipValue(of: tag)
            }
        }
        guard !name.isEmpty else { throw DescriptorParseFailure(reason: "an enum in '\(scope)' has no name") }
        self.name = name
        self.fullName = qualified(scope, name)
        self.values = values
    }

    private static func parseValue(_ bytes: ArraySlice<UInt8>) throws -> Value {
        var value = Value(name: "", number: 0)
        var reader = ProtoReader(bytes)
        while let tag = try reader.readTag() {
            switch (tag.fieldNumber, tag.wireType) {
            case (1, .lengthDelimited): value.name = try reader.readString()
            case (2, .varint): value.number = Int32(truncatingIfNeeded: try reader.readVarint())
            default: try reader.skipValue(of: tag)
            }
        }
        return value
    }
}
