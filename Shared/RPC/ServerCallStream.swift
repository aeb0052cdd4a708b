/// The server side of one call, as a transport presents it to the router.
///
/// Transports (HTTP/2, in-process) implement it; handlers never see it directly, only the typed
/// `RequestStream` and `ResponseWriter` built on it.
public protocol ServerCallStream: Sendable {
    /// The next request message, or `nil` once the client has finished sending.
    ///
    /// - Throws: `RPCError` when the message is over the receive limit or the call was cancelled.
    func receive() async throws -> [UInt8]?
    /// Sends the response headers with `metadata`. Only the first call has an effect.
    func sendHeaders(_ metadata: Metadata)
    /// Sends one response message, suspending while the peer's flow-control window is closed.
    ///
    /// - Throws: `RPCError` (`.cancelled`) once the call can no longer send.
    func send(_ message: [UInt8]) async throws
    /// Ends the call with a status and trailing metadata; later calls have no effect. When no headers
    /// were sent this becomes a trailers-only response.
    func finish(status: Status, trailers: Metadata)
}

/// The request messages of a streaming call, decoded. Iterate it once.
public struct RequestStream<Message: ProtoMessage>: AsyncSequence, Sendable {
    /// Iterates the stream.
    public typealias Element = Message

    private let stream: any ServerCallStream

    init(stream: any ServerCallStream) {
        self.stream = stream
    }

    /// Makes the iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(stream: self.stream)
    }

    /// Iterates request messages; throws `RPCError(.internal)` for a message that fails to decode.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: any ServerCallStream

        /// The next message, or `nil` at the end of the stream.
        public mutating func next() async throws -> Message? {
            guard let bytes = try await self.stream.receive() else { return nil }
            return try decodeRequest(bytes)
        }
    }
}

/// Writes the response messages of a server-streaming or bidirectional call.
public struct ResponseWriter<Message: ProtoMessage>: Sendable {
    private let stream: any ServerCallStream
    private let context: ServerContext

    init(stream: any ServerCallStream, context: ServerContext) {
        self.stream = stream
        self.context = context
    }

    /// Sends one message; suspends while the client is not reading (flow control).
    public func write(_ message: Message) async throws {
        self.stream.sendHeaders(self.context.initialResponseMetadata)
        try await self.stream.send(message.serializedBytes())
    }

    /// Sends the response headers now, without a message (e.g. so the client sees initial metadata early).
    public func sendHeaders() {
        self.stream.sendHeaders(self.context.initialResponseMetadata)
    }
}

func decodeRequest<Message: ProtoMessage>(_ bytes: [UInt8]) throws -> Message {
    do {
        return try Message(serializedBytes: bytes)
    } catch {
        throw RPCError(code: .internal, message: "Failed to decode request as \(Message.protoMessageName)")
    }
}
