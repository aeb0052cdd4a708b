// The hand-written half of SkyportProto: what the generated message code (Generated/) calls to move
// values between Swift and protobuf-c. protobuf-c does the wire encoding; the generated code only
// copies fields. No C type appears in a public declaration.

internal import CProtobufC
internal import SkyportRPC

/// One proto file compiled into SkyportProto, as server reflection serves it.
public struct ProtoFileDescriptor: Sendable, Hashable {
    /// The file's import path, e.g. `grpc/testing/messages.proto`.
    public var name: String
    /// The serialized `google.protobuf.FileDescriptorProto` of the file (without source comments).
    public var serialized: [UInt8]
    /// The import paths of the files it imports.
    public var dependencies: [String]
    /// The fully-qualified names it defines: messages (nested included), enums, services,
    /// methods (`package.Service.Method`) and extensions.
    public var symbols: [String]
    /// The fully-qualified names of its services.
    public var services: [String]

    /// Creates a descriptor.
    public init(name: String, serialized: [UInt8], dependencies: [String], symbols: [String], services: [String]) {
        self.name = name
        self.serialized = serialized
        self.dependencies = dependencies
        self.symbols = symbols
        self.services = services
    }

    /// Creates a descriptor from base64 text split into lines, as the generated registry stores it
    /// (a string literal compiles far faster than a byte-array literal of the same size).
    init(name: String, base64: [String], dependencies: [String], symbols: [String], services: [String]) {
        guard let serialized = Base64.decode(base64.joined()) else {
            preconditionFailure("ProtoFileRegistry holds invalid base64 for \(name); run `make generate`")
        }
        self.init(name: name, serialized: serialized, dependencies: dependencies, symbols: symbols, services: services)
    }
}

/// Owns the C memory of one message while it is encoded: the message structs, strings, bytes and
/// arrays the generated `cMessage(in:)` functions build. Everything is freed in `deinit`, so callers
/// keep the arena alive (`withExtendedLifetime`) until `protobuf_c_message_pack` has returned.
final class ProtoArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    init() {}

    deinit {
        for allocation in self.allocations {
            allocation.deallocate()
        }
    }

    private func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: count)
        self.allocations.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    /// A C message struct set to its defaults by protoc-c's generated `…__init` function.
    func message<CMessage>(_ initialize: (UnsafeMutablePointer<CMessage>?) -> Void) -> UnsafeMutablePointer<CMessage> {
        let pointer = self.allocate(CMessage.self, count: 1)
        initialize(pointer)
        return pointer
    }

    /// A NUL-terminated copy of `value`.
    ///
    /// protobuf-c strings are C strings, so a string containing U+0000 is truncated there.
    func string(_ value: String) -> UnsafeMutablePointer<CChar> {
        var value = value
        return value.withUTF8 { utf8 in
            let pointer = self.allocate(CChar.self, count: utf8.count + 1)
            if let base = utf8.baseAddress {
                UnsafeMutableRawPointer(pointer).copyMemory(from: base, byteCount: utf8.count)
            }
            pointer[utf8.count] = 0
            return pointer
        }
    }

    /// A copy of `value` as protobuf-c binary data.
    func bytes(_ value: [UInt8]) -> ProtobufCBinaryData {
        guard !value.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let pointer = self.allocate(UInt8.self, count: value.count)
        pointer.initialize(from: value, count: value.count)
        return ProtobufCBinaryData(len: value.count, data: pointer)
    }

    /// A C array of `elements`, each converted by `transform`; `nil` when there are none.
    func array<Element, CElement>(
        _ elements: [Element], _ transform: (Element) -> CElement
    ) -> UnsafeMutablePointer<CElement>? {
        guard !elements.isEmpty else { return nil }
        let pointer = self.allocate(CElement.self, count: elements.count)
        for (index, element) in elements.enumerated() {
            (pointer + index).initialize(to: transform(element))
        }
        return pointer
    }
}

/// Decodes `bytes` with protobuf-c into the C struct `initialize` sets up, converts it with
/// `convert`, and frees the C message.
func unpackProtoMessage<CMessage, Message>(
    _ bytes: [UInt8], name: String, initialize: (UnsafeMutablePointer<CMessage>?) -> Void,
    convert: (UnsafeMutablePointer<CMessage>) -> Message
) throws(ProtoDecodingError) -> Message {
    // The descriptor's address comes from a default-initialised struct: protobuf-c compares
    // descriptors by address, so a copy of the C global would not do.
    let template = UnsafeMutablePointer<CMessage>.allocate(capacity: 1)
    defer { template.deallocate() }
    initialize(template)
    let descriptor = UnsafeRawPointer(template).load(as: ProtobufCMessage.self).descriptor
    let unpacked = bytes.withUnsafeBufferPointer { buffer -> UnsafeMutablePointer<ProtobufCMessage>? in
        // An empty array may have no storage; protobuf-c is given a valid pointer regardless.
        var empty: UInt8 = 0
        guard let base = buffer.baseAddress else {
            return protobuf_c_message_unpack(descriptor, nil, 0, &empty)
        }
        return protobuf_c_message_unpack(descriptor, nil, buffer.count, base)
    }
    guard let unpacked else { throw ProtoDecodingError(messageName: name) }
    defer { protobuf_c_message_free_unpacked(unpacked, nil) }
    return convert(UnsafeMutableRawPointer(unpacked).assumingMemoryBound(to: CMessage.self))
}

/// Encodes a C message struct built by a generated `cMessage(in:)`.
func packProtoMessage<CMessage>(_ message: UnsafeMutablePointer<CMessage>) -> [UInt8] {
    let base = UnsafeMutableRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
    let size = protobuf_c_message_get_packed_size(base)
    guard size > 0 else { return [] }
    return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
        count = protobuf_c_message_pack(base, buffer.baseAddress)
    }
}

/// A C string as a Swift string; `nil` reads as the empty string. Invalid UTF-8 is repaired.
func protoString(_ pointer: UnsafePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    return String(cString: pointer)
}

/// protobuf-c binary data as bytes.
func protoBytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard data.len > 0, let base = data.data else { return [] }
    return Array(UnsafeBufferPointer(start: base, count: data.len))
}

/// A C array of `count` values, each converted by `transform`.
func protoArray<CElement, Element>(
    _ count: Int, _ base: UnsafeMutablePointer<CElement>?, _ transform: (CElement) -> Element
) -> [Element] {
    guard count > 0, let base else { return [] }
    return UnsafeBufferPointer(start: base, count: count).map(transform)
}

/// A C array of `count` message pointers, each converted by `transform` (null entries skipped).
func protoMessages<CMessage, Message>(
    _ count: Int, _ base: UnsafeMutablePointer<UnsafeMutablePointer<CMessage>?>?,
    _ transform: (UnsafeMutablePointer<CMessage>) -> Message
) -> [Message] {
    guard count > 0, let base else { return [] }
    return UnsafeBufferPointer(start: base, count: count).compactMap { $0.map(transform) }
}

/// A map field, which protobuf-c holds as an array of entry messages; a later duplicate key wins,
/// as the protobuf specification requires.
func protoMap<CEntry, Key: Hashable, Value>(
    _ count: Int, _ base: UnsafeMutablePointer<UnsafeMutablePointer<CEntry>?>?,
    _ transform: (UnsafeMutablePointer<CEntry>) -> (Key, Value)
) -> [Key: Value] {
    var map: [Key: Value] = [:]
    for (key, value) in protoMessages(count, base, transform) {
        map[key] = value
    }
    return map
}
