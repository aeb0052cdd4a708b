import SkyportProto
import SkyportReflection

/// Descriptor pools and hand-built descriptors the suites share.
enum TestDescriptors {
    /// A pool of every file compiled into SkyportProto, from their serialized descriptors.
    static func registryPool() throws -> DescriptorPool {
        try DescriptorPool(serializedFiles: ProtoFileRegistry.files.map(\.serialized))
    }

    /// The serialized descriptor of one registry file.
    static func serializedFile(_ name: String) throws -> [UInt8] {
        guard let file = ProtoFileRegistry.files.first(where: { $0.name == name }) else {
            throw MissingFile(name: name)
        }
        return file.serialized
    }

    struct MissingFile: Error {
        var name: String
    }

    /// A `FieldDescriptorProto` (fields 1, 3, 4, 5, 6, 9, 10).
    static func field(
        _ name: String, _ number: Int32, type: Int32, label: Int32 = 1, typeName: String? = nil,
        jsonName: String? = nil, oneofIndex: Int32? = nil
    ) -> [UInt8] {
        var writer = ProtoWriter()
        writer.writeTag(1, .lengthDelimited)
        writer.writeString(name)
        writer.writeTag(3, .varint)
        writer.writeVarint(UInt64(number))
        writer.writeTag(4, .varint)
        writer.writeVarint(UInt64(label))
        writer.writeTag(5, .varint)
        writer.writeVarint(UInt64(type))
        if let typeName {
            writer.writeTag(6, .lengthDelimited)
            writer.writeString(typeName)
        }
        if let oneofIndex {
            writer.writeTag(9, .varint)
            writer.writeVarint(UInt64(oneofIndex))
        }
        if let jsonName {
            writer.writeTag(10, .lengthDelimited)
            writer.writeString(jsonName)
        }
        return writer.bytes
    }

    /// A `DescriptorProto` (fields 1, 2, 3).
    static func message(_ name: String, fields: [[UInt8]], nested: [[UInt8]] = []) -> [UInt8] {
        var writer = ProtoWriter()
        writer.writeTag(1, .lengthDelimited)
        writer.writeString(name)
        for field in fields {
            writer.writeTag(2, .lengthDelimited)
            writer.writeLengthDelimited(field)
        }
        for message in nested {
            writer.writeTag(3, .lengthDelimited)
            writer.writeLengthDelimited(message)
        }
        return writer.bytes
    }

    /// A `FileDescriptorProto` (fields 1, 2, 3, 4, 12); no syntax means proto2.
    static func file(
        _ name: String, package: String, dependencies: [String] = [], messages: [[UInt8]], syntax: String? = nil
    ) -> [UInt8] {
        var writer = ProtoWriter()
        writer.writeTag(1, .lengthDelimited)
        writer.writeString(name)
        writer.writeTag(2, .lengthDelimited)
        writer.writeString(package)
        for dependency in dependencies {
            writer.writeTag(3, .lengthDelimited)
            writer.writeString(dependency)
        }
        for message in messages {
            writer.writeTag(4, .lengthDelimited)
            writer.writeLengthDelimited(message)
        }
        if let syntax {
            writer.writeTag(12, .lengthDelimited)
            writer.writeString(syntax)
        }
        return writer.bytes
    }
}
