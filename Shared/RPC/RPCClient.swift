/// Makes typed calls of all four shapes over a `ClientTransport`.
///
/// Generated client stubs wrap it. Deadlines, cancellation of the calling task, and interceptors are
/// handled here once, for every transport.
public struct RPCClient: Sendable {
    /// The transport calls go over.
    public let transport: any ClientTransport
    /// Interceptors, outermost first.
    public let interceptors: [any ClientInterceptor]

    /// Creates a client.
    public init(transport: any ClientTransport, interceptors: [any ClientInterceptor] = []) {
        self.transport = transport
        self.interceptors = interceptors
    }

    /// A unary call.
    public func unary<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor, request: Request, metadata: Metadata = [:], options: CallOptions = .init(),
        responseType: Response.Type = Response.self
    ) async throws -> ClientResponse<Response> {
        try await self.withStream(method, metadata: metadata, options: options) { stream in
            try await stream.send(request.serializedBytes())
            stream.closeSend()
            return try await Self.singleResponse(stream)
        }
    }

    /// A server-streaming call: `body` reads the responses; the call ends when `body` returns.
    public func serverStreaming<Request: ProtoMessage, Response: ProtoMessage, Result: Sendable>(
        _ method: MethodDescriptor, request: Request, metadata: Metadata = [:], options: CallOptions = .init(),
        responseType: Response.Type = Response.self,
        body: (ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        try await self.withStream(method, metadata: metadata, options: options) { stream in
            try await stream.send(request.serializedBytes())
            stream.closeSend()
            return try await body(ResponseStream(stream: stream))
        }
    }

    /// A client-streaming call: `requests` writes the requests; the response is read after it returns.
    public func clientStreaming<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor, metadata: Metadata = [:], options: CallOptions = .init(),
        requestType: Request.Type = Request.self, responseType: Response.Type = Response.self,
        requests: (RequestWriter<Request>) async throws -> Void
    ) async throws -> ClientResponse<Response> {
        try await self.withStream(method, metadata: metadata, options: options) { stream in
            try await requests(RequestWriter(stream: stream))
            stream.closeSend()
            return try await Self.singleResponse(stream)
        }
    }

    /// A bidirectional call: `body` writes and reads through the call; the call ends when `body` returns.
    public func bidirectional<Request: ProtoMessage, Response: ProtoMessage, Result: Sendable>(
        _ method: MethodDescriptor, metadata: Metadata = [:], options: CallOptions = .init(),
        requestType: Request.Type = Request.self, responseType: Response.Type = Response.self,
        body: (BidirectionalCall<Request, Response>) async throws -> Result
    ) async throws -> Result {
        try await self.withStream(method, metadata: metadata, options: options) { stream in
            try await body(BidirectionalCall(stream: stream))
        }
    }

    /// Opens a stream through the interceptors and runs `body` on it, enforcing the calling task's
    /// cancellation (the transport enforces the deadline). A stream that `body` leaves unfinished is cancelled.
    private func withStream<Result: Sendable>(
        _ method: MethodDescriptor, metadata: Metadata, options: CallOptions,
        body: (any ClientCallStream) async throws -> Result
    ) async throws -> Result {
        let info = ClientCallInfo(method: method, metadata: metadata, options: options)
        return try await self.intercept(from: 0, info) { info in
            // The transport enforces the deadline (`options.timeout`).
            let stream = try await self.transport.openStream(
                method: info.method, metadata: info.metadata, options: info.options)
            return try await withTaskCancellationHandler {
                do {
                    let result = try await body(stream)
                    stream.cancel(RPCError(code: .cancelled, message: "Call ended by the client"))
                    return result
                } catch let error as RPCError {
                    stream.cancel(error)
                    throw error
                } catch {
                    // A failure of the caller's own code, or task cancellation: report the call's
                    // status if the transport already has one (e.g. the deadline), else CANCELLED.
                    stream.cancel(RPCError(code: .cancelled, message: "Call cancelled by the client"))
                    let (status, trailers) = await stream.receiveStatus()
                    if status.code != .ok && status.code != .cancelled {
                        throw RPCError(status: status, metadata: trailers)
                    }
                    throw error
                }
            } onCancel: {
                stream.cancel(RPCError(code: .cancelled, message: "Call cancelled by the client"))
            }
        }
    }

    private func intercept<Result: Sendable>(
        from index: Int, _ info: ClientCallInfo, _ last: (ClientCallInfo) async throws -> Result
    ) async throws -> Result {
        if index == self.interceptors.count { return try await last(info) }
        return try await self.interceptors[index].intercept(info) { info in
            try await self.intercept(from: index + 1, info, last)
        }
    }

    private static func singleResponse<Response: ProtoMessage>(
        _ stream: any ClientCallStream
    ) async throws -> ClientResponse<Response> {
        let headers = try await stream.receiveHeaders()
        let first = try await stream.receive()
        let extra = first == nil ? nil : try await stream.receive()
        let (status, trailers) = await stream.receiveStatus()
        guard status.code == .ok else { throw RPCError(status: status, metadata: trailers) }
        guard let bytes = first else {
            throw RPCError(code: .internal, message: "Server sent OK without a response message")
        }
        guard extra == nil else {
            throw RPCError(code: .internal, message: "Server sent more than one response on a unary call")
        }
        return ClientResponse(initialMetadata: headers, message: try decodeResponse(bytes), trailingMetadata: trailers)
    }
}

/// A single response with the metadata around it.
public struct ClientResponse<Message: ProtoMessage>: Sendable {
    /// Metadata from the response headers.
    public var initialMetadata: Metadata
    /// The response message.
    public var message: Message
    /// Metadata from the trailers.
    public var trailingMetadata: Metadata
}

/// The responses of a streaming call. Iterating ends normally only when the call ends OK; any other
/// status is thrown as `RPCError`.
public struct ResponseStream<Message: ProtoMessage>: AsyncSequence, Sendable {
    /// Iterates the responses.
    public typealias Element = Message

    let stream: any ClientCallStream

    /// The response headers' metadata (waits for them).
    public func initialMetadata() async throws -> Metadata {
        try await self.stream.receiveHeaders()
    }

    /// The trailers' metadata (waits for the end of the call).
    public func trailingMetadata() async -> Metadata {
        await self.stream.receiveStatus().trailers
    }

    /// Makes the iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(stream: self.stream)
    }

    /// Iterates the responses.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: any ClientCallStream

        /// The next response, or `nil` when the call has ended OK.
        public mutating func next() async throws -> Message? {
            if let bytes = try await self.stream.receive() {
                return try decodeResponse(bytes)
            }
            let (status, trailers) = await self.stream.receiveStatus()
            guard status.code == .ok else { throw RPCError(status: status, metadata: trailers) }
            return nil
        }
    }
}

/// Writes the requests of a client-streaming or bidirectional call.
public struct RequestWriter<Message: ProtoMessage>: Sendable {
    let stream: any ClientCallStream

    /// Sends one request; suspends while the server is not reading (flow control).
    public func write(_ message: Message) async throws {
        try await self.stream.send(message.serializedBytes())
    }
}

/// Both directions of a bidirectional call.
public struct BidirectionalCall<Request: ProtoMessage, Response: ProtoMessage>: Sendable {
    let stream: any ClientCallStream

    /// Sends one request.
    public func write(_ message: Request) async throws {
        try await self.stream.send(message.serializedBytes())
    }

    /// Half-closes the request side.
    public func finishWriting() {
        self.stream.closeSend()
    }

    /// The responses.
    public var responses: ResponseStream<Response> { ResponseStream(stream: self.stream) }
}

func decodeResponse<Message: ProtoMessage>(_ bytes: [UInt8]) throws -> Message {
    do {
        return try Message(serializedBytes: bytes)
    } catch {
        throw RPCError(code: .internal, message: "Failed to decode response as \(Message.protoMessageName)")
    }
}
