/// A `google.protobuf.DescriptorProto`: one message type.
public struct MessageDescriptor: Sendable, Hashable {
    /// The short name, e.g. `Inner`.
    public var name: String
    /// The fully-qualified name, e.g. `skyport.testing.v1.Everything.Inner`.
    public var fullName: String
    /// The syntax of the file it is declared in.
    public var syntax: ProtoSyntax
    /// The fields in declaration order.
    public var fields: [FieldDescriptor]
    /// The names of its oneofs, indexed by `FieldDescriptor.oneofIndex` (proto3 `optional` fields
    /// each have a synthetic one).
    public var oneofNames: [String]
    /// Messages declared inside it (map entries included).
    public var nestedTypes: [MessageDescriptor]
    /// Enums declared inside it.
    public var enumTypes: [EnumDescriptor]
    /// Whether this is the synthetic entry type of a map field (`options.map_entry`).
    public var isMapEntry: Bool

    /// The field numbered `number`.
    public func field(number: Int32) -> FieldDescriptor? {
        self.fields.first { $0.number == number }
    }

    /// The field whose JSON name or declared name is `name` (the JSON name wins when they collide).
    public func field(named name: String) -> FieldDescriptor? {
        self.fields.first { $0.jsonName == name } ?? self.fields.first { $0.name == name }
    }

    /// The fields in field-number order, the order the JSON output uses.
    public var fieldsByNumber: [FieldDescriptor] {
        self.fields.sorted { $0.number < $1.number }
    }

    /// Whether a singular field tracks presence (so that a default value is still written and printed):
    /// messages, oneof members, proto3 `optional`, and every singular field outside proto3.
    public func hasPresence(_ field: FieldDescriptor) -> Bool {
        guard !field.isRepeated else { return false }
        return field.type == .message || field.oneofIndex != nil || field.isProto3Optional || self.syntax != .proto3
    }

    /// Whether a repeated scalar field is written packed: the default in proto3 and editions, opt-in in proto2.
    public func isPacked(_ field: FieldDescriptor) -> Bool {
        guard field.isRepeated, field.type.isPackable else { return false }
        return field.packedOption ?? (self.syntax != .proto2)
    }

    /// How deeply message declarations may nest in a descriptor (protoc allows far less in practice).
    static let maxNestingDepth = 64

    init(parsing bytes: ArraySlice<UInt8>, scope: String, syntax: ProtoSyntax, depth: Int) throws {
        guard depth < Self.maxNestingDepth else {
            throw DescriptorParseFailure(reason: "messages in '\(scope)' nest too deeply")
        }
        var name = ""
        var rawFields: [ArraySlice<UInt8>] = []
        var rawNested: [ArraySlice<UInt8>] = []
        var rawEnums: [ArraySlice<UInt8>] = []
        var oneofNames: [String] = []
        var isMapEntry = false
        var reader = ProtoReader(bytes)
        while let tag = try reader.readTag() {
            switch (tag.fieldNumber, tag.wireType) {
            case (1, .lengthDelimited): name = try reader.readString()
            case (2, .lengthDelimited): rawFields.append(try reader.readLengthDelimited())
            case (3, .lengthDelimited): rawNested.append(try reader.readLengthDelimited())
            case (4, .lengthDelimited): rawEnums.append(try reader.readLengthDelimited())
            case (7, .lengthDelimited): isMapEntry = try Self.parseMapEntryOption(reader.readLengthDelimited())
            case (8, .lengthDelimited): oneofNames.append(try Self.parseOneofName(reader.readLengthDelimited()))
            default: try reader.skipValue(of: tag)
            }
        }
        guard !name.isEmpty else { throw DescriptorParseFailure(reason: "a message in '\(scope)' has no name") }
        let fullName = qualified(scope, name)
        self.name = name
        self.fullName = fullName
        self.syntax = syntax
        self.fields = try rawFields.map { try FieldDescriptor(parsing: $0, scope: fullName) }
        self.oneofNames = oneofNames
        self.nestedTypes = try rawNested.map {
            try MessageDescriptor(parsing: $0, scope: fullName, syntax: syntax, depth: depth + 1)
        }
        self.enumTypes = try rawEnums.map { try EnumDescriptor(parsing: $0, scope: fullName) }
        self.isMapEntry = isMapEntry
        for field in self.fields {
            if let index = field.oneofIndex, index >= oneofNames.count {
                throw DescriptorParseFailure(reason: "field '\(fullName).\(field.name)' names a missing oneof")
            }
        }
        if isMapEntry, self.field(number: 1) == nil || self.field(number: 2) == nil {
            throw DescriptorParseFailure(reason: "map entry '\(fullName)' lacks its key or value field")
        }
    }

    private static func parseMapEntryOption(_ bytes: ArraySlice<UInt8>) throws -> Bool {
        var mapEntry = false
        var reader = ProtoReader(bytes)
        while let tag = try reader.readTag() {
            if tag.fieldNumber == 7, tag.wireType == .varint {
                mapEntry = try reader.readVarint() != 0
            } else {
                try reader.skipValue(of: tag)
            }
        }
        return mapEntry
    }

    private static func parseOneofName(_ bytes: ArraySlice<UInt8>) throws -> String {
        var name = ""
        var reader = ProtoReader(bytes)
        while let tag = try reader.readTag() {
            if tag.fieldNumber == 1, tag.wireType == .lengthDelimited {
                name = try reader.readString()
            } else {
                try reader.skipValue(of: tag)
            }
        }
        return name
    }
}
