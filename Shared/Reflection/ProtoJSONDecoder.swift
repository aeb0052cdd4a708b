internal import SkyportRPC

/// Protobuf binary → JSON under the proto3 JSON mapping, driven by descriptors.
///
/// Fields come out in field-number order under their JSON names; implicit-presence fields at their
/// default are left out; 64-bit integers are strings; bytes are standard base64; enums are names (numbers
/// when unknown); map keys are sorted. Unknown fields, and known fields with an unexpected wire type, are
/// skipped as protobuf parsers do. For repeated singular fields the last value wins and messages merge.
struct ProtoJSONDecoder {
    let pool: DescriptorPool

    /// A map key with the order JSON output sorts by.
    private enum MapKey: Hashable, Comparable {
        case signed(Int64)
        case unsigned(UInt64)
        case bool(Bool)
        case string(String)

        var text: String {
            switch self {
            case .signed(let value): String(value)
            case .unsigned(let value): String(value)
            case .bool(let value): value ? "true" : "false"
            case .string(let value): value
            }
        }

        static func < (lhs: MapKey, rhs: MapKey) -> Bool {
            switch (lhs, rhs) {
            case (.signed(let a), .signed(let b)): a < b
            case (.unsigned(let a), .unsigned(let b)): a < b
            case (.bool(let a), .bool(let b)): !a && b
            case (.string(let a), .string(let b)): a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
            default: lhs.text < rhs.text
            }
        }
    }

    func decodeMessage(_ bytes: ArraySlice<UInt8>, as message: MessageDescriptor, path: String, depth: Int) throws
        -> JSONValue
    {
        guard depth <= JSONValue.maxDepth else {
            throw ProtoJSONError(path: path, reason: "messages nest deeper than \(JSONValue.maxDepth)")
        }
        var fieldsByNumber: [Int32: FieldDescriptor] = [:]
        for field in message.fields where fieldsByNumber[field.number] == nil { fieldsByNumber[field.number] = field }

        var singular: [Int32: (value: JSONValue, isDefault: Bool)] = [:]
        var singularMessages: [Int32: [UInt8]] = [:]
        var repeated: [Int32: [JSONValue]] = [:]
        var maps: [Int32: [MapKey: JSONValue]] = [:]
        var lastInOneof: [Int: Int32] = [:]

        var reader = ProtoReader(bytes)
        while let tag = try reader.readTag() {
            guard let field = fieldsByNumber[tag.fieldNumber], field.type != .group else {
                try reader.skipValue(of: tag)
                continue
            }
            let fieldPath = ProtoJSONError.join(path, field.jsonName)
            if field.isRepeated, field.type.isPackable, tag.wireType == .lengthDelimited {
                var packed = ProtoReader(try reader.readLengthDelimited())
                while !packed.isAtEnd {
                    let index = repeated[field.number, default: []].count
                    repeated[field.number, default: []].append(
                        try self.scalar(from: &packed, field: field, in: message, path: "\(fieldPath)[\(index)]").value)
                }
                continue
            }
            guard tag.wireType == field.type.wireType else {
                try reader.skipValue(of: tag)
                continue
            }
            if let oneof = field.oneofIndex { lastInOneof[oneof] = field.number }
            if field.type == .message {
                let payload = try reader.readLengthDelimited()
                let type = try self.pool.resolveMessage(field.typeName, scope: message.fullName, from: fieldPath)
                if !field.isRepeated {
                    // Repeated occurrences of a singular message merge, which concatenation does.
                    singularMessages[field.number, default: []].append(contentsOf: payload)
                } else if type.isMapEntry {
                    let (key, value) = try self.mapEntry(payload, entry: type, path: fieldPath, depth: depth)
                    maps[field.number, default: [:]][key] = value
                } else {
                    let index = repeated[field.number, default: []].count
                    repeated[field.number, default: []].append(
                        try self.decodeMessage(payload, as: type, path: "\(fieldPath)[\(index)]", depth: depth + 1))
                }
            } else {
                let decoded = try self.scalar(from: &reader, field: field, in: message, path: fieldPath)
                if field.isRepeated {
                    repeated[field.number, default: []].append(decoded.value)
                } else {
                    singular[field.number] = decoded
                }
            }
        }

        var members: [(key: String, value: JSONValue)] = []
        for field in message.fieldsByNumber {
            if let oneof = field.oneofIndex, let last = lastInOneof[oneof], last != field.number { continue }
            let fieldPath = ProtoJSONError.join(path, field.jsonName)
            if let entries = maps[field.number], !entries.isEmpty {
                members.append(
                    (field.jsonName, .object(entries.sorted { $0.key < $1.key }.map { ($0.key.text, $0.value) })))
            } else if let values = repeated[field.number], !values.isEmpty {
                members.append((field.jsonName, .array(values)))
            } else if let payload = singularMessages[field.number] {
                let type = try self.pool.resolveMessage(field.typeName, scope: message.fullName, from: fieldPath)
                members.append(
                    (field.jsonName, try self.decodeMessage(payload[...], as: type, path: fieldPath, depth: depth + 1)))
            } else if let decoded = singular[field.number], !decoded.isDefault || message.hasPresence(field) {
                members.append((field.jsonName, decoded.value))
            }
        }
        return .object(members)
    }

    /// One map entry: its key (field 1) and value (field 2), each at its default when absent.
    private func mapEntry(_ bytes: ArraySlice<UInt8>, entry: MessageDescriptor, path: String, depth: Int) throws
        -> (MapKey, JSONValue)
    {
        let keyField = entry.field(number: 1)!
        let valueField = entry.field(number: 2)!
        var key: JSONValue?
        var value: JSONValue?
        var valueMessage: [UInt8]?
        var reader = ProtoReader(bytes)
        while let tag = try reader.readTag() {
            if tag.fieldNumber == 1, tag.wireType == keyField.type.wireType, keyField.type != .message {
                key = try self.scalar(from: &reader, field: keyField, in: entry, path: path).value
            } else if tag.fieldNumber == 2, tag.wireType == valueField.type.wireType {
                if valueField.type == .message {
                    valueMessage = (valueMessage ?? []) + (try reader.readLengthDelimited())
                } else {
                    value = try self.scalar(from: &reader, field: valueField, in: entry, path: path).value
                }
            } else {
                try reader.skipValue(of: tag)
            }
        }
        let mapKey: MapKey
        switch (keyField.type, key ?? self.defaultValue(keyField, in: entry)) {
        case (.bool, .bool(let flag)): mapKey = .bool(flag)
        case (.string, .string(let text)): mapKey = .string(text)
        case (.int64, .string(let text)), (.sint64, .string(let text)), (.sfixed64, .string(let text)):
            mapKey = .signed(Int64(text) ?? 0)
        case (.uint64, .string(let text)), (.fixed64, .string(let text)): mapKey = .unsigned(UInt64(text) ?? 0)
        case (.uint32, .number(let text)), (.fixed32, .number(let text)): mapKey = .unsigned(UInt64(text) ?? 0)
        case (_, .number(let text)): mapKey = .signed(Int64(text) ?? 0)
        default: throw ProtoJSONError(path: path, reason: "map key of type \(keyField.type) is not allowed")
        }
        let entryPath = "\(path)[\(JSONValue.string(mapKey.text))]"
        if valueField.type == .message {
            let type = try self.pool.resolveMessage(valueField.typeName, scope: entry.fullName, from: entryPath)
            return (
                mapKey, try self.decodeMessage((valueMessage ?? [])[...], as: type, path: entryPath, depth: depth + 1)
            )
        }
        return (mapKey, value ?? self.defaultValue(valueField, in: entry))
    }

    /// The JSON of a scalar field at its default (for map entries that leave out key or value).
    private func defaultValue(_ field: FieldDescriptor, in message: MessageDescriptor) -> JSONValue {
        switch field.type {
        case .int64, .uint64, .sint64, .fixed64, .sfixed64: .string("0")
        case .bool: .bool(false)
        case .string, .bytes: .string("")
        case .enum:
            (try? self.pool.resolveEnum(field.typeName, scope: message.fullName, from: field.name))?
                .value(number: 0).map { .string($0.name) } ?? .number("0")
        case .message, .group: .object([])
        default: .number("0")
        }
    }

    /// One scalar or enum value, and whether it is the type's default (all bits zero).
    private func scalar(
        from reader: inout ProtoReader, field: FieldDescriptor, in message: MessageDescriptor, path: String
    )
        throws -> (value: JSONValue, isDefault: Bool)
    {
        switch field.type {
        case .int32:
            let value = Int32(truncatingIfNeeded: try reader.readVarint())
            return (.number(String(value)), value == 0)
        case .sint32:
            let value = ZigZag.decode(UInt32(truncatingIfNeeded: try reader.readVarint()))
            return (.number(String(value)), value == 0)
        case .uint32:
            let value = UInt32(truncatingIfNeeded: try reader.readVarint())
            return (.number(String(value)), value == 0)
        case .int64:
            let value = Int64(bitPattern: try reader.readVarint())
            return (.string(String(value)), value == 0)
        case .sint64:
            let value = ZigZag.decode(try reader.readVarint())
            return (.string(String(value)), value == 0)
        case .uint64:
            let value = try reader.readVarint()
            return (.string(String(value)), value == 0)
        case .fixed32:
            let value = try reader.readFixed32()
            return (.number(String(value)), value == 0)
        case .sfixed32:
            let value = Int32(bitPattern: try reader.readFixed32())
            return (.number(String(value)), value == 0)
        case .fixed64:
            let value = try reader.readFixed64()
            return (.string(String(value)), value == 0)
        case .sfixed64:
            let value = Int64(bitPattern: try reader.readFixed64())
            return (.string(String(value)), value == 0)
        case .bool:
            let value = try reader.readVarint() != 0
            return (.bool(value), !value)
        case .float:
            let bits = try reader.readFixed32()
            return (Self.json(Float(bitPattern: bits)), bits == 0)
        case .double:
            let bits = try reader.readFixed64()
            return (Self.json(Double(bitPattern: bits)), bits == 0)
        case .string:
            let start = reader.offset
            let raw = try reader.readLengthDelimited()
            if let text = String(validating: raw, as: UTF8.self) { return (.string(text), raw.isEmpty) }
            // proto2 does not promise UTF-8; proto3 does, so there it is malformed data.
            guard message.syntax == .proto2 else {
                throw ProtoJSONError(path: path, reason: WireFormatError(.invalidUTF8, offset: start).description)
            }
            return (.string(String(decoding: raw, as: UTF8.self)), raw.isEmpty)
        case .bytes:
            let raw = try reader.readLengthDelimited()
            return (.string(Base64.encode(Array(raw))), raw.isEmpty)
        case .enum:
            let number = Int32(truncatingIfNeeded: try reader.readVarint())
            let type = try self.pool.resolveEnum(field.typeName, scope: message.fullName, from: path)
            let value: JSONValue = type.value(number: number).map { .string($0.name) } ?? .number(String(number))
            return (value, number == 0)
        case .message, .group:
            throw ProtoJSONError(path: path, reason: "not a scalar field")
        }
    }

    /// A float as JSON: integral values without a fraction, NaN and infinities as the mapping's strings.
    static func json(_ value: Float) -> JSONValue {
        if value.isNaN { return .string("NaN") }
        if value.isInfinite { return .string(value < 0 ? "-Infinity" : "Infinity") }
        if value == value.rounded(), abs(value) < 1e15 { return .number(Self.integral(Double(value))) }
        return .number(value.description)
    }

    /// A double as JSON, like `json(_: Float)`.
    static func json(_ value: Double) -> JSONValue {
        if value.isNaN { return .string("NaN") }
        if value.isInfinite { return .string(value < 0 ? "-Infinity" : "Infinity") }
        if value == value.rounded(), abs(value) < 1e15 { return .number(Self.integral(value)) }
        return .number(value.description)
    }

    private static func integral(_ value: Double) -> String {
        value == 0 && value.sign == .minus ? "-0" : String(Int64(value))
    }
}
