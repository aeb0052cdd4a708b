/// The parts of a `google.protobuf.FileDescriptorProto` needed to build, encode and decode messages
/// dynamically and to describe services.
public struct FileDescriptor: Sendable, Hashable {
    /// The file's import path, e.g. `grpc/testing/messages.proto`.
    public var name: String
    /// The proto package, e.g. `grpc.testing`; empty when the file has none.
    public var package: String
    /// The import paths of the files it imports.
    public var dependencies: [String]
    /// The file's syntax.
    public var syntax: ProtoSyntax
    /// Top-level messages, nested types inside them.
    public var messageTypes: [MessageDescriptor]
    /// Top-level enums.
    public var enumTypes: [EnumDescriptor]
    /// Services.
    public var services: [ServiceDescriptor]

    /// Parses a serialized `FileDescriptorProto`. Fields this module does not use are skipped.
    ///
    /// - Throws: `DescriptorError.malformedFile` when the bytes are not a valid encoding.
    public init(serializedBytes: [UInt8]) throws {
        var name = ""
        var package = ""
        var dependencies: [String] = []
        var syntax = ProtoSyntax.proto2
        var rawMessages: [ArraySlice<UInt8>] = []
        var rawEnums: [ArraySlice<UInt8>] = []
        var rawServices: [ArraySlice<UInt8>] = []
        do {
            var reader = ProtoReader(serializedBytes)
            while let tag = try reader.readTag() {
                switch (tag.fieldNumber, tag.wireType) {
                case (1, .lengthDelimited): name = try reader.readString()
                case (2, .lengthDelimited): package = try reader.readString()
                case (3, .lengthDelimited): dependencies.append(try reader.readString())
                case (4, .lengthDelimited): rawMessages.append(try reader.readLengthDelimited())
                case (5, .lengthDelimited): rawEnums.append(try reader.readLengthDelimited())
                case (6, .lengthDelimited): rawServices.append(try reader.readLengthDelimited())
                case (12, .lengthDelimited): syntax = ProtoSyntax(declared: try reader.readString())
                default: try reader.skipValue(of: tag)
                }
            }
            // Nested definitions need the package (for full names) and the syntax, which may come last.
            let scope = package
            self.messageTypes = try rawMessages.map {
                try MessageDescriptor(parsing: $0, scope: scope, syntax: syntax, depth: 0)
            }
            self.enumTypes = try rawEnums.map { try EnumDescriptor(parsing: $0, scope: scope) }
            self.services = try rawServices.map { try ServiceDescriptor(parsing: $0, scope: scope) }
        } catch let error as WireFormatError {
            throw DescriptorError.malformedFile(name: name, reason: error.description)
        } catch let error as DescriptorParseFailure {
            throw DescriptorError.malformedFile(name: name, reason: error.reason)
        }
        guard !name.isEmpty else { throw DescriptorError.malformedFile(name: "", reason: "the file has no name") }
        self.name = name
        self.package = package
        self.dependencies = dependencies
        self.syntax = syntax
    }

    /// Every message in the file, nested ones included, parents before children.
    public var allMessageTypes: [MessageDescriptor] {
        var result: [MessageDescriptor] = []
        func visit(_ message: MessageDescriptor) {
            result.append(message)
            message.nestedTypes.forEach(visit)
        }
        self.messageTypes.forEach(visit)
        return result
    }

    /// Every enum in the file, nested ones included.
    public var allEnumTypes: [EnumDescriptor] {
        self.enumTypes + self.allMessageTypes.flatMap(\.enumTypes)
    }
}

/// The `syntax` of a proto file, which decides field presence and packing defaults.
public enum ProtoSyntax: String, Sendable, Hashable {
    /// `syntax = "proto2"` or no syntax statement.
    case proto2
    /// `syntax = "proto3"`.
    case proto3
    /// `edition = "…"` (treated with the 2023 defaults: explicit presence, packed repeated scalars).
    case editions

    /// The syntax named by `FileDescriptorProto.syntax`.
    init(declared: String) {
        switch declared {
        case "proto3": self = .proto3
        case "editions": self = .editions
        default: self = .proto2
        }
    }
}

/// A descriptor is well-formed protobuf but not a valid descriptor (e.g. an unknown field type).
struct DescriptorParseFailure: Error {
    var reason: String
}

/// `scope.name`, or `name` at the root scope.
func qualified(_ scope: String, _ name: String) -> String {
    scope.isEmpty ? name : scope + "." + name
}
