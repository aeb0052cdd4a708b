internal import SkyportRPC

/// JSON → protobuf binary under the proto3 JSON mapping, driven by descriptors.
///
/// Accepts each field under its JSON name or its declared name; `null` means the default. Integers may
/// be numbers or strings (64-bit ones are usually strings), in range for their type; floats also take
/// `"NaN"`, `"Infinity"` and `"-Infinity"`; bytes are base64, standard or URL-safe, padded or not;
/// enums are names or numbers. Output is deterministic: fields in field-number order, repeated scalars
/// packed where the syntax says so, implicit-presence fields at their default left out.
struct ProtoJSONEncoder {
    let pool: DescriptorPool

    /// A value as it is written on the wire, before its tag.
    enum WireValue {
        case varint(UInt64)
        case fixed32(UInt32)
        case fixed64(UInt64)
        case bytes([UInt8])

        var isDefault: Bool {
            switch self {
            case .varint(let value): value == 0
            case .fixed32(let value): value == 0
            case .fixed64(let value): value == 0
            case .bytes(let value): value.isEmpty
            }
        }

        func write(to writer: inout ProtoWriter) {
            switch self {
            case .varint(let value): writer.writeVarint(value)
            case .fixed32(let value): writer.writeFixed32(value)
            case .fixed64(let value): writer.writeFixed64(value)
            case .bytes(let value): writer.writeLengthDelimited(value)
            }
        }
    }

    func encodeMessage(_ value: JSONValue, as message: MessageDescriptor, path: String, depth: Int) throws -> [UInt8] {
        guard depth <= JSONValue.maxDepth else {
            throw ProtoJSONError(path: path, reason: "messages nest deeper than \(JSONValue.maxDepth)")
        }
        guard case .object(let members) = value else {
            throw ProtoJSONError(
                path: path,
                reason: path.isEmpty
                    ? "expected a JSON object for \(message.fullName), got \(value.kindDescription)"
                    : "expected an object (\(message.fullName)), got \(value.kindDescription)")
        }
        var chosen: [(field: FieldDescriptor, path: String, value: JSONValue)] = []
        var keyByNumber: [Int32: String] = [:]
        var keyByOneof: [Int: String] = [:]
        for (key, member) in members {
            let fieldPath = ProtoJSONError.join(path, key)
            guard let field = message.field(named: key) else {
                throw ProtoJSONError(
                    path: fieldPath, reason: "unknown field (\(message.fullName) has no field '\(key)')")
            }
            if let previous = keyByNumber[field.number] {
                throw ProtoJSONError(
                    path: fieldPath,
                    reason: previous == key ? "given more than once" : "given more than once (also as '\(previous)')")
            }
            keyByNumber[field.number] = key
            if case .null = member { continue }
            if let oneof = field.oneofIndex {
                if let other = keyByOneof[oneof] {
                    throw ProtoJSONError(
                        path: fieldPath, reason: "oneof '\(message.oneofNames[oneof])' already has a value ('\(other)')"
                    )
                }
                keyByOneof[oneof] = key
            }
            chosen.append((field, fieldPath, member))
        }
        var writer = ProtoWriter()
        for entry in chosen.sorted(by: { $0.field.number < $1.field.number }) {
            try self.encodeField(
                entry.value, field: entry.field, in: message, path: entry.path, depth: depth, into: &writer)
        }
        return writer.bytes
    }

    private func encodeField(
        _ value: JSONValue, field: FieldDescriptor, in message: MessageDescriptor, path: String, depth: Int,
        into writer: inout ProtoWriter
    ) throws {
        guard field.type != .group else { throw ProtoJSONError(path: path, reason: "groups are not supported") }
        guard field.isRepeated else {
            try self.encodeSingle(
                value, field: field, in: message, path: path, depth: depth, always: message.hasPresence(field),
                into: &writer)
            return
        }
        if field.type == .message {
            let entry = try self.pool.resolveMessage(field.typeName, scope: message.fullName, from: path)
            if entry.isMapEntry {
                try self.encodeMap(value, field: field, entry: entry, path: path, depth: depth, into: &writer)
                return
            }
        }
        guard case .array(let elements) = value else {
            throw ProtoJSONError(path: path, reason: "expected an array, got \(value.kindDescription)")
        }
        for (index, element) in elements.enumerated() where element == .null {
            throw ProtoJSONError(path: "\(path)[\(index)]", reason: "null is not allowed in a repeated field")
        }
        if message.isPacked(field) {
            guard !elements.isEmpty else { return }
            var packed = ProtoWriter()
            for (index, element) in elements.enumerated() {
                try self.scalar(element, field: field, in: message, path: "\(path)[\(index)]").write(to: &packed)
            }
            writer.writeTag(field.number, .lengthDelimited)
            writer.writeLengthDelimited(packed.bytes)
        } else {
            for (index, element) in elements.enumerated() {
                try self.encodeSingle(
                    element, field: field, in: message, path: "\(path)[\(index)]", depth: depth, always: true,
                    into: &writer)
            }
        }
    }

    /// One value with its tag; an implicit-presence scalar at its default is left out unless `always`.
    private func encodeSingle(
        _ value: JSONValue, field: FieldDescriptor, in message: MessageDescriptor, path: String, depth: Int,
        always: Bool, into writer: inout ProtoWriter
    ) throws {
        if field.type == .message {
            let type = try self.pool.resolveMessage(field.typeName, scope: message.fullName, from: path)
            let bytes = try self.encodeMessage(value, as: type, path: path, depth: depth + 1)
            writer.writeTag(field.number, .lengthDelimited)
            writer.writeLengthDelimited(bytes)
            return
        }
        let wire = try self.scalar(value, field: field, in: message, path: path)
        guard always || !wire.isDefault else { return }
        writer.writeTag(field.number, field.type.wireType)
        wire.write(to: &writer)
    }

    private func encodeMap(
        _ value: JSONValue, field: FieldDescriptor, entry: MessageDescriptor, path: String, depth: Int,
        into writer: inout ProtoWriter
    ) throws {
        guard case .object(let members) = value else {
            throw ProtoJSONError(path: path, reason: "expected an object (map), got \(value.kindDescription)")
        }
        let keyField = entry.field(number: 1)!
        let valueField = entry.field(number: 2)!
        var seen: Set<String> = []
        for (key, member) in members {
            let entryPath = "\(path)[\(JSONValue.string(key))]"
            guard seen.insert(key).inserted else { throw ProtoJSONError(path: entryPath, reason: "duplicate map key") }
            guard member != .null else { throw ProtoJSONError(path: entryPath, reason: "map values cannot be null") }
            let keyJSON: JSONValue
            if keyField.type == .bool {
                guard key == "true" || key == "false" else {
                    throw ProtoJSONError(path: entryPath, reason: "map key must be \"true\" or \"false\"")
                }
                keyJSON = .bool(key == "true")
            } else {
                keyJSON = .string(key)
            }
            var entryWriter = ProtoWriter()
            entryWriter.writeTag(1, keyField.type.wireType)
            try self.scalar(keyJSON, field: keyField, in: entry, path: entryPath).write(to: &entryWriter)
            try self.encodeSingle(
                member, field: valueField, in: entry, path: entryPath, depth: depth, always: true, into: &entryWriter)
            writer.writeTag(field.number, .lengthDelimited)
            writer.writeLengthDelimited(entryWriter.bytes)
        }
    }

    /// A scalar or enum value in its wire form.
    private func scalar(_ value: JSONValue, field: FieldDescriptor, in message: MessageDescriptor, path: String)
        throws -> WireValue
    {
        switch field.type {
        case .int32:
            let number = try Self.signed(value, path: path, type: "int32", range: Int64(Int32.min)...Int64(Int32.max))
            return .varint(UInt64(bitPattern: number))
        case .sint32:
            let number = try Self.signed(value, path: path, type: "sint32", range: Int64(Int32.min)...Int64(Int32.max))
            return .varint(UInt64(ZigZag.encode(Int32(number))))
        case .sfixed32:
            let number = try Self.signed(
                value, path: path, type: "sfixed32", range: Int64(Int32.min)...Int64(Int32.max))
            return .fixed32(UInt32(bitPattern: Int32(number)))
        case .uint32:
            return .varint(try Self.unsigned(value, path: path, type: "uint32", max: UInt64(UInt32.max)))
        case .fixed32:
            return .fixed32(UInt32(try Self.unsigned(value, path: path, type: "fixed32", max: UInt64(UInt32.max))))
        case .int64:
            return .varint(UInt64(bitPattern: try Self.signed(value, path: path, type: "int64", range: .min ... .max)))
        case .sint64:
            return .varint(ZigZag.encode(try Self.signed(value, path: path, type: "sint64", range: .min ... .max)))
        case .sfixed64:
            return .fixed64(
                UInt64(bitPattern: try Self.signed(value, path: path, type: "sfixed64", range: .min ... .max)))
        case .uint64:
            return .varint(try Self.unsigned(value, path: path, type: "uint64", max: .max))
        case .fixed64:
            return .fixed64(try Self.unsigned(value, path: path, type: "fixed64", max: .max))
        case .bool:
            guard case .bool(let flag) = value else {
                throw ProtoJSONError(path: path, reason: "expected true or false, got \(value.kindDescription)")
            }
            return .varint(flag ? 1 : 0)
        case .float:
            let number = try Self.floatingPoint(value, path: path, type: "float")
            if number.isFinite, abs(number) > Double(Float.greatestFiniteMagnitude) {
                throw ProtoJSONError(path: path, reason: "\(number) is out of range for float")
            }
            return .fixed32(Float(number).bitPattern)
        case .double:
            return .fixed64(try Self.floatingPoint(value, path: path, type: "double").bitPattern)
        case .string:
            guard case .string(let text) = value else {
                throw ProtoJSONError(path: path, reason: "expected a string, got \(value.kindDescription)")
            }
            return .bytes(Array(text.utf8))
        case .bytes:
            guard case .string(let text) = value else {
                throw ProtoJSONError(path: path, reason: "expected a base64 string, got \(value.kindDescription)")
            }
            guard let bytes = Self.base64Decode(text) else {
                throw ProtoJSONError(path: path, reason: "invalid base64")
            }
            return .bytes(bytes)
        case .enum:
            let type = try self.pool.resolveEnum(field.typeName, scope: message.fullName, from: path)
            switch value {
            case .string(let name):
                guard let enumValue = type.value(named: name) else {
                    throw ProtoJSONError(path: path, reason: "unknown value '\(name)' of enum \(type.fullName)")
                }
                return .varint(UInt64(bitPattern: Int64(enumValue.number)))
            case .number:
                let number = try Self.signed(
                    value, path: path, type: "enum", range: Int64(Int32.min)...Int64(Int32.max))
                return .varint(UInt64(bitPattern: number))
            default:
                throw ProtoJSONError(
                    path: path,
                    reason: "expected an enum name or number (\(type.fullName)), got \(value.kindDescription)")
            }
        case .message, .group:
            throw ProtoJSONError(path: path, reason: "not a scalar field")
        }
    }

    /// The text of an integer given as a JSON number or a string holding one.
    private static func numberText(_ value: JSONValue, path: String, type: String) throws -> String {
        switch value {
        case .number(let text): return text
        case .string(let text) where isJSONNumber(text): return text
        case .string(let text):
            throw ProtoJSONError(
                path: path, reason: "expected \(type == "enum" ? "a number" : "an integer") (\(type)), got \"\(text)\"")
        default:
            throw ProtoJSONError(path: path, reason: "expected an integer (\(type)), got \(value.kindDescription)")
        }
    }

    private static func signed(_ value: JSONValue, path: String, type: String, range: ClosedRange<Int64>) throws
        -> Int64
    {
        let text = try self.numberText(value, path: path, type: type)
        let outOfRange = ProtoJSONError(path: path, reason: "\(text) is out of range for \(type)")
        if let number = Int64(text) {
            guard range.contains(number) else { throw outOfRange }
            return number
        }
        guard text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { throw outOfRange }
        guard let double = Double(text), double.isFinite, double == double.rounded(.towardZero) else {
            throw ProtoJSONError(path: path, reason: "expected an integer (\(type)), got \(text)")
        }
        guard let number = Int64(exactly: double), range.contains(number) else { throw outOfRange }
        return number
    }

    private static func unsigned(_ value: JSONValue, path: String, type: String, max: UInt64) throws -> UInt64 {
        let text = try self.numberText(value, path: path, type: type)
        let outOfRange = ProtoJSONError(path: path, reason: "\(text) is out of range for \(type)")
        if let number = UInt64(text) {
            guard number <= max else { throw outOfRange }
            return number
        }
        guard text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { throw outOfRange }
        guard let double = Double(text), double.isFinite, double == double.rounded(.towardZero) else {
            throw ProtoJSONError(path: path, reason: "expected an integer (\(type)), got \(text)")
        }
        guard let number = UInt64(exactly: double), number <= max else { throw outOfRange }
        return number
    }

    private static func floatingPoint(_ value: JSONValue, path: String, type: String) throws -> Double {
        let text: String
        switch value {
        case .number(let number): text = number
        case .string("NaN"): return .nan
        case .string("Infinity"): return .infinity
        case .string("-Infinity"): return -.infinity
        case .string(let string) where isJSONNumber(string): text = string
        default:
            throw ProtoJSONError(path: path, reason: "expected a number (\(type)), got \(value.kindDescription)")
        }
        guard let number = Double(text), number.isFinite else {
            throw ProtoJSONError(path: path, reason: "\(text) is out of range for \(type)")
        }
        return number
    }

    /// Standard or URL-safe base64, with or without padding.
    static func base64Decode(_ text: String) -> [UInt8]? {
        var standard = ""
        standard.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "-": standard.unicodeScalars.append("+")
            case "_": standard.unicodeScalars.append("/")
            default: standard.unicodeScalars.append(scalar)
            }
        }
        guard standard.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        return Base64.decode(standard)
    }

    /// Whether `text` is a JSON number (so `" 1"`, `"0x10"`, `"inf"` and `"+1"` are not).
    static func isJSONNumber(_ text: String) -> Bool {
        var parser = JSONParser(Array(text.utf8))
        guard case .number? = try? parser.parseValue(depth: 0) else { return false }
        return parser.isAtEnd
    }
}
