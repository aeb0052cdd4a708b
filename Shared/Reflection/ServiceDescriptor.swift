public import SkyportRPC

/// A `google.protobuf.ServiceDescriptorProto`.
public struct ServiceDescriptor: Sendable, Hashable {
    /// One RPC method (`google.protobuf.MethodDescriptorProto`).
    public struct Method: Sendable, Hashable {
        /// The method name, e.g. `UnaryCall`.
        public var name: String
        /// The fully-qualified name of the service it belongs to.
        public var serviceName: String
        /// The request type as the descriptor names it (normally fully qualified with a leading dot).
        public var inputType: String
        /// The response type as the descriptor names it.
        public var outputType: String
        /// Whether the client sends a stream of requests.
        public var clientStreaming: Bool
        /// Whether the server sends a stream of responses.
        public var serverStreaming: Bool

        /// `package.Service.Method`.
        public var fullName: String { self.serviceName + "." + self.name }

        /// The descriptor the RPC client routes by (`/package.Service/Method`).
        public var rpcDescriptor: SkyportRPC.MethodDescriptor {
            SkyportRPC.MethodDescriptor(service: self.serviceName, method: self.name)
        }

        /// Unary, server-streaming, client-streaming or bidirectional.
        public var shape: CallShape {
            switch (self.clientStreaming, self.serverStreaming) {
            case (false, false): .unary
            case (false, true): .serverStreaming
            case (true, false): .clientStreaming
            case (true, true): .bidirectionalStreaming
            }
        }
    }

    /// The short name, e.g. `TestService`.
    public var name: String
    /// The fully-qualified name, e.g. `grpc.testing.TestService`.
    public var fullName: String
    /// The methods in declaration order.
    public var methods: [Method]

    /// The method called `name`.
    public func method(named name: String) -> Method? {
        self.methods.first { $0.name == name }
    }

    init(parsing bytes: ArraySlice<UInt8>, scope: String) throws {
        var name = ""
        var rawMethods: [ArraySlice<UInt8>] = []
        var reader = ProtoReader(bytes)
        while let tag = try reader.readTag() {
            switch (tag.fieldNumber, tag.wireType) {
            case (1, .lengthDelimited): name = try reader.readString()
            case (2, .lengthDelimited): rawMethods.append(try reader.readLengthDelimited())
            default: try reader.skipValue(of: tag)
            }
        }
        guard !name.isEmpty else { throw DescriptorParseFailure(reason: "a service in '\(scope)' has no name") }
        let fullName = qualified(scope, name)
        self.name = name
        self.fullName = fullName
        self.methods = try rawMethods.map { try Self.parseMethod($0, service: fullName) }
    }

    private static func parseMethod(_ bytes: ArraySlice<UInt8>, service: String) throws -> Method {
        var method = Method(
            name: "", serviceName: service, inputType: "", outputType: "", clientStreaming: false,
            serverStreaming: false)
        var reader = ProtoReader(bytes)
        while let tag = try reader.readTag() {
            switch (tag.fieldNumber, tag.wireType) {
            case (1, .lengthDelimited): method.name = try reader.readString()
            case (2, .lengthDelimited): method.inputType = try reader.readString()
            case (3, .lengthDelimited): method.outputType = try reader.readString()
            case (5, .varint): method.clientStreaming = try reader.readVarint() != 0
            case (6, .varint): method.serverStreaming = try reader.readVarint() != 0
            default: try reader.skipValue(of: tag)
            }
        }
        guard !method.name.isEmpty, !method.inputType.isEmpty, !method.outputType.isEmpty else {
            throw DescriptorParseFailure(reason: "a method of '\(service)' lacks its name or types")
        }
        return method
    }
}
