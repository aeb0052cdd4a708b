/// A `google.protobuf.FieldDescriptorProto`: one field of a message.
public struct FieldDescriptor: Sendable, Hashable {
    /// `FieldDescriptorProto.Label`.
    public enum Label: Int32, Sendable, Hashable {
        /// A singular field.
        case optional = 1
        /// A proto2 required field.
        case required = 2
        /// A repeated field (maps are repeated map-entry messages).
        case repeated = 3
    }

    /// `FieldDescriptorProto.Type`.
    public enum FieldType: Int32, Sendable, Hashable, CustomStringConvertible {
        /// `double`.
        case double = 1
        /// `float`.
        case float = 2
        /// `int64`.
        case int64 = 3
        /// `uint64`.
        case uint64 = 4
        /// `int32`.
        case int32 = 5
        /// `fixed64`.
        case fixed64 = 6
        /// `fixed32`.
        case fixed32 = 7
        /// `bool`.
        case bool = 8
        /// `string`.
        case string = 9
        /// A proto2 group (not supported for encoding or decoding; skipped as unknown).
        case group = 10
        /// An embedded message.
        case message = 11
        /// `bytes`.
        case bytes = 12
        /// `uint32`.
        case uint32 = 13
        /// An enum.
        case `enum` = 14
        /// `sfixed32`.
        case sfixed32 = 15
        /// `sfixed64`.
        case sfixed64 = 16
        /// `sint32`.
        case sint32 = 17
        /// `sint64`.
        case sint64 = 18

        /// The name in `.proto` syntax, e.g. `sint64` (`message` and `enum` for those kinds).
        public var description: String {
            switch self {
            case .double: "double"
            case .float: "float"
            case .int64: "int64"
            case .uint64: "uint64"
            case .int32: "int32"
            case .fixed64: "fixed64"
            case .fixed32: "fixed32"
            case .bool: "bool"
            case .string: "string"
            case .group: "group"
            case .message: "message"
            case .bytes: "bytes"
            case .uint32: "uint32"
            case .enum: "enum"
            case .sfixed32: "sfixed32"
            case .sfixed64: "sfixed64"
            case .sint32: "sint32"
            case .sint64: "sint64"
            }
        }

        /// The wire type a single value of this type is written with.
        public var wireType: WireType {
            switch self {
            case .int32, .int64, .uint32, .uint64, .sint32, .sint64, .bool, .enum: .varint
            case .fixed64, .sfixed64, .double: .fixed64
            case .fixed32, .sfixed32, .float: .fixed32
            case .string, .bytes, .message: .lengthDelimited
            case .group: .startGroup
            }
        }

        /// Whether repeated values of this type may be packed into one length-delimited record.
        public var isPackable: Bool { self.wireType != .lengthDelimited && self != .group }
    }

    /// The field name as declared, e.g. `response_size`.
    public var name: String
    /// The field number.
    public var number: Int32
    /// Singular, required or repeated.
    public var label: Label
    /// The value type.
    public var type: FieldType
    /// For messages and enums, the type's name as the descriptor writes it (normally `.package.Type`);
    /// empty otherwise.
    public var typeName: String
    /// The JSON name: `json_name` from the descriptor, or the lowerCamelCase form of `name` when unset.
    public var jsonName: String
    /// The index of the oneof (in the message's `oneofNames`) the field belongs to, if any.
    public var oneofIndex: Int?
    /// Whether the field was declared `optional` in proto3 (explicit presence through a synthetic oneof).
    public var isProto3Optional: Bool
    /// The `packed` option when the descriptor sets it.
    public var packedOption: Bool?

    /// Whether the field is repeated (or a map).
    public var isRepeated: Bool { self.label == .repeated }

    init(parsing bytes: ArraySlice<UInt8>, scope: String) throws {
        var name = ""
        var number: Int32 = 0
        var label: Int32 = 1
        var type: Int32 = 0
        var typeName = ""
        var jsonName: String?
        var oneofIndex: Int?
        var proto3Optional = false
        var packed: Bool?
        var reader = ProtoReader(bytes)
        while let tag = try reader.readTag() {
            switch (tag.fieldNumber, tag.wireType) {
            case (1, .lengthDelimited): name = try reader.readString()
            case (3, .varint): number = Int32(truncatingIfNeeded: try reader.readVarint())
            case (4, .varint): label = Int32(truncatingIfNeeded: try reader.readVarint())
            case (5, .varint): type = Int32(truncatingIfNeeded: try reader.readVarint())
            case (6, .lengthDelimited): typeName = try reader.readString()
            case (8, .lengthDelimited): packed = try Self.parsePackedOption(reader.readLengthDelimited())
            case (9, .varint): oneofIndex = Int(Int32(truncatingIfNeeded: try reader.readVarint()))
            case (10, .lengthDelimited): jsonName = try reader.readString()
            case (17, .varint): proto3Optional = try reader.readVarint() != 0
            default: try reader.skipValue(of: tag)
            }
        }
        guard !name.isEmpty else { throw DescriptorParseFailure(reason: "a field of '\(scope)' has no name") }
        guard number >= 1, number <= ProtoTag.maxFieldNumber else {
            throw DescriptorParseFailure(reason: "field '\(scope).\(name)' has invalid number \(number)")
        }
        guard let parsedLabel = Label(rawValue: label) else {
            throw DescriptorParseFailure(reason: "field '\(scope).\(name)' has unknown label \(label)")
        }
        guard let parsedType = FieldType(rawValue: type) else {
            throw DescriptorParseFailure(reason: "field '\(scope).\(name)' has unknown type \(type)")
        }
        if parsedType == .message || parsedType == .enum || parsedType == .group, typeName.isEmpty {
            throw DescriptorParseFailure(reason: "field '\(scope).\(name)' has no type name")
        }
        if let index = oneofIndex, index < 0 {
            throw DescriptorParseFailure(reason: "field '\(scope).\(name)' has invalid oneof index \(index)")
        }
        self.name = name
        self.number = number
        self.label = parsedLabel
        self.type = parsedType
        self.typeName = typeName
        self.jsonName = jsonName ?? Self.defaultJSONName(name)
        self.oneofIndex = oneofIndex
        self.isProto3Optional = proto3Optional
        self.packedOption = packed
    }

    /// protoc's default JSON name: underscores dropped, the letter after each one upper-cased.
    static func defaultJSONName(_ name: String) -> String {
        var result = ""
        var upperNext = false
        for character in name {
            if character == "_" {
                upperNext = true
            } else if upperNext {
                result += character.uppercased()
                upperNext = false
            } else {
                result.append(character)
            }
        }
        return result
    }

    private static func parsePackedOption(_ bytes: ArraySlice<UInt8>) throws -> Bool? {
        var packed: Bool?
        var reader = ProtoReader(bytes)
        while let tag = try reader.readTag() {
            if tag.fieldNumber == 2, tag.wireType == .varint {
                packed = try reader.readVarint() != 0
            } else {
                try reader.skipValue(of: tag)
            }
        }
        return packed
    }
}
