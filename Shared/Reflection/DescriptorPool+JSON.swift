extension DescriptorPool {
    /// Encodes JSON as the binary form of `type`, following the proto3 JSON mapping.
    ///
    /// - Throws: `ProtoJSONError` naming the field path when the JSON does not fit the type (unknown
    ///   field, wrong JSON type, integer out of range, bad base64, unknown enum name, two members of a
    ///   oneof); `DescriptorError` when a type it refers to is missing from the pool.
    public func encode(_ json: JSONValue, as type: MessageDescriptor) throws -> [UInt8] {
        try ProtoJSONEncoder(pool: self).encodeMessage(json, as: type, path: "", depth: 0)
    }

    /// Encodes JSON as the binary form of the message type called `name`.
    ///
    /// - Throws: like `encode(_:as:)`, and `DescriptorError` when no message is called `name`.
    public func encode(_ json: JSONValue, asMessageNamed name: String) throws -> [UInt8] {
        try self.encode(json, as: self.messageType(named: name))
    }

    /// Parses JSON text and encodes it as the binary form of the message type called `name`.
    ///
    /// - Throws: `JSONSyntaxError` for text that is not JSON, otherwise like `encode(_:asMessageNamed:)`.
    public func encode(jsonText: String, asMessageNamed name: String) throws -> [UInt8] {
        try self.encode(JSONValue.parse(jsonText), asMessageNamed: name)
    }

    /// Decodes the binary form of `type` into its JSON form, following the proto3 JSON mapping.
    ///
    /// - Throws: `WireFormatError` when the bytes are malformed, `ProtoJSONError` for content JSON cannot
    ///   carry (invalid UTF-8 in a proto3 string), `DescriptorError` when a type is missing from the pool.
    public func decode(_ bytes: [UInt8], as type: MessageDescriptor) throws -> JSONValue {
        try ProtoJSONDecoder(pool: self).decodeMessage(bytes[...], as: type, path: "", depth: 0)
    }

    /// Decodes the binary form of the message type called `name` into its JSON form.
    ///
    /// - Throws: like `decode(_:as:)`, and `DescriptorError` when no message is called `name`.
    public func decode(_ bytes: [UInt8], asMessageNamed name: String) throws -> JSONValue {
        try self.decode(bytes, as: self.messageType(named: name))
    }

    /// Decodes the binary form of the message type called `name` into pretty-printed JSON text
    /// (2-space indentation, fields in field-number order).
    ///
    /// - Throws: like `decode(_:asMessageNamed:)`.
    public func jsonText(decoding bytes: [UInt8], asMessageNamed name: String) throws -> String {
        try self.decode(bytes, asMessageNamed: name).formatted(indent: 2)
    }

    private func messageType(named name: String) throws -> MessageDescriptor {
        switch self.symbol(named: name) {
        case .message(let message): return message
        case nil: throw DescriptorError.unknownSymbol(name)
        default: throw DescriptorError.notAMessage(name)
        }
    }
}
