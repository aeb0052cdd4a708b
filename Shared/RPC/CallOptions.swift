/// Per-call settings on the client.
public struct CallOptions: Sendable, Hashable {
    /// How long the call may take; sent as `grpc-timeout` and enforced locally as DEADLINE_EXCEEDED.
    public var timeout: Duration?

    /// Creates options.
    public init(timeout: Duration? = nil) {
        self.timeout = timeout
    }
}
