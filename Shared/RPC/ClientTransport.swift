/// Opens client streams to one target. The HTTP/2 and in-process transports implement it.
public protocol ClientTransport: Sendable {
    /// Starts a call: sends the request headers with `metadata` (and `grpc-timeout` from `options`).
    /// The transport enforces `options.timeout`, counted from this call: when it passes, the stream ends
    /// with DEADLINE_EXCEEDED.
    ///
    /// - Throws: `RPCError(.unavailable)` when the target cannot be reached.
    func openStream(method: MethodDescriptor, metadata: Metadata, options: CallOptions) async throws
        -> any ClientCallStream
}

/// The client side of one call, as a transport presents it.
public protocol ClientCallStream: Sendable {
    /// Sends one request message, suspending while the server's flow-control window is closed.
    ///
    /// - Throws: `RPCError` once the call has ended (the final status, or CANCELLED).
    func send(_ message: [UInt8]) async throws
    /// Half-closes: no more request messages.
    func closeSend()
    /// The response headers' custom metadata; empty for a trailers-only response.
    func receiveHeaders() async throws -> Metadata
    /// The next response message, or `nil` when there are no more (the status is then available).
    ///
    /// - Throws: `RPCError` when the call was cancelled, reset, or hit a transport error.
    func receive() async throws -> [UInt8]?
    /// Waits for the call to end and returns its status and trailing metadata.
    func receiveStatus() async -> (status: Status, trailers: Metadata)
    /// Ends the call from the client side (RST_STREAM); pending and later operations fail with `error`,
    /// and `error` becomes the call's status.
    func cancel(_ error: RPCError)
}

/// What a client interceptor may look at and change before a call starts.
public struct ClientCallInfo: Sendable {
    /// The method called.
    public var method: MethodDescriptor
    /// The request metadata; interceptors may add to it (e.g. credentials).
    public var metadata: Metadata
    /// The call options.
    public var options: CallOptions

    /// Creates call information.
    public init(method: MethodDescriptor, metadata: Metadata, options: CallOptions) {
        self.method = method
        self.metadata = metadata
        self.options = options
    }
}

/// Runs around every client call: adding credentials, logging, metrics.
public protocol ClientInterceptor: Sendable {
    /// Intercepts one call; calls `next` to continue, or throws `RPCError` to fail it without sending.
    func intercept<Result: Sendable>(
        _ call: ClientCallInfo, next: (ClientCallInfo) async throws -> Result
    ) async throws -> Result
}
