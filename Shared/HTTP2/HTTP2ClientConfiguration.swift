public import SkyportInterop

/// Settings of an HTTP/2 client transport.
public struct HTTP2ClientConfiguration: Sendable {
    /// TLS, or `nil` for cleartext h2c with prior knowledge.
    public var tls: ClientTLS?
    /// HTTP/2 settings and protections.
    public var session = HTTP2SessionSettings()
    /// The largest response message accepted (RESOURCE_EXHAUSTED beyond).
    public var maxReceiveMessageSize = 4 * 1024 * 1024
    /// Bytes of complete, unread response messages per stream before its window stops reopening.
    public var maxBufferedBytesPerStream = 256 * 1024
    /// Bytes of request data queued per stream before `send` suspends.
    public var maxQueuedBytesPerStream = 256 * 1024
    /// How long connecting (TCP and TLS) may take before calls fail with UNAVAILABLE.
    public var connectTimeout: Duration = .seconds(5)
    /// How often a PING checks that the connection is alive; a PING unanswered by the next one closes
    /// the connection. `nil` disables keepalive.
    public var keepaliveInterval: Duration? = .seconds(30)

    /// Creates a configuration.
    public init(tls: ClientTLS? = nil) {
        self.tls = tls
    }
}
