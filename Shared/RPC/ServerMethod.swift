/// One routable method: its descriptor and a handler over raw message bytes.
///
/// Generated service code builds these with the typed factories (`unary`, `serverStreaming`,
/// `clientStreaming`, `bidirectional`), which decode requests and encode responses.
public struct ServerMethod: Sendable {
    /// The method this entry serves.
    public let descriptor: MethodDescriptor
    /// The call shape.
    public let shape: CallShape
    /// Runs the call; throwing ends it with that error's status.
    public let handler: @Sendable (any ServerCallStream, ServerContext) async throws -> Void

    /// Creates a method from a raw handler.
    public init(
        descriptor: MethodDescriptor, shape: CallShape,
        handler: @escaping @Sendable (any ServerCallStream, ServerContext) async throws -> Void
    ) {
        self.descriptor = descriptor
        self.shape = shape
        self.handler = handler
    }

    /// A unary method.
    public static func unary<Request: ProtoMessage, Response: ProtoMessage>(
        _ descriptor: MethodDescriptor, _ request: Request.Type = Request.self,
        _ response: Response.Type = Response.self,
        _ body: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) -> ServerMethod {
        ServerMethod(descriptor: descriptor, shape: .unary) { stream, context in
            let request: Request = try await receiveSingle(stream)
            let response = try await body(request, context)
            stream.sendHeaders(context.initialResponseMetadata)
            try await stream.send(response.serializedBytes())
        }
    }

    /// A server-streaming method.
    public static func serverStreaming<Request: ProtoMessage, Response: ProtoMessage>(
        _ descriptor: MethodDescriptor, _ request: Request.Type = Request.self,
        _ response: Response.Type = Response.self,
        _ body: @escaping @Sendable (Request, ResponseWriter<Response>, ServerContext) async throws -> Void
    ) -> ServerMethod {
        ServerMethod(descriptor: descriptor, shape: .serverStreaming) { stream, context in
            let request: Request = try await receiveSingle(stream)
            try await body(request, ResponseWriter(stream: stream, context: context), context)
        }
    }

    /// A client-streaming method.
    public static func clientStreaming<Request: ProtoMessage, Response: ProtoMessage>(
        _ descriptor: MethodDescriptor, _ request: Request.Type = Request.self,
        _ response: Response.Type = Response.self,
        _ body: @escaping @Sendable (RequestStream<Request>, ServerContext) async throws -> Response
    ) -> ServerMethod {
        ServerMethod(descriptor: descriptor, shape: .clientStreaming) { stream, context in
            let response = try await body(RequestStream(stream: stream), context)
            stream.sendHeaders(context.initialResponseMetadata)
            try await stream.send(response.serializedBytes())
        }
    }

    /// A bidirectional-streaming method.
    public static func bidirectional<Request: ProtoMessage, Response: ProtoMessage>(
        _ descriptor: MethodDescriptor, _ request: Request.Type = Request.self,
        _ response: Response.Type = Response.self,
        _ body:
            @escaping @Sendable (RequestStream<Request>, ResponseWriter<Response>, ServerContext) async throws -> Void
    ) -> ServerMethod {
        ServerMethod(descriptor: descriptor, shape: .bidirectionalStreaming) { stream, context in
            try await body(RequestStream(stream: stream), ResponseWriter(stream: stream, context: context), context)
        }
    }
}

/// Reads exactly one request message, as unary and server-streaming calls require.
private func receiveSingle<Request: ProtoMessage>(_ stream: any ServerCallStream) async throws -> Request {
    guard let bytes = try await stream.receive() else {
        throw RPCError(code: .internal, message: "Client half-closed without sending a request")
    }
    guard try await stream.receive() == nil else {
        throw RPCError(code: .internal, message: "Client sent more than one request on a unary call")
    }
    return try decodeRequest(bytes)
}
