public import SkyportInterop

/// Limits and timeouts of the HTTP/2 server, with defaults fit for an internet-facing service.
///
/// Every limit protects memory or time against a hostile peer; the comments name what each bounds.
public struct HTTP2ServerConfiguration: Sendable {
    /// HTTP/2 settings and nghttp2 flood protections (max concurrent streams, header list size,
    /// windows, rapid-reset and CONTINUATION limits).
    public var session = HTTP2SessionSettings()
    /// The largest request message accepted; larger ones end the call with RESOURCE_EXHAUSTED before
    /// any of it is buffered.
    public var maxReceiveMessageSize = 4 * 1024 * 1024
    /// Bytes of received request data buffered per connection before the connection window stops
    /// reopening (the peer then waits for handlers to read).
    public var maxBufferedBytesPerConnection = 32 * 1024 * 1024
    /// Bytes of complete, unread messages per stream before the stream window stops reopening.
    public var maxBufferedBytesPerStream = 256 * 1024
    /// Bytes of response data queued per stream before a handler's `write` suspends.
    public var maxQueuedBytesPerStream = 256 * 1024
    /// Bytes of response data queued over the whole connection before every writer on it suspends.
    public var maxQueuedBytesPerConnection = 4 * 1024 * 1024
    /// How long a new connection has to complete TLS and send the HTTP/2 preface.
    public var handshakeTimeout: Duration = .seconds(10)
    /// How long a connection may stay open with no active stream.
    public var idleTimeout: Duration = .seconds(300)
    /// How long in-flight calls get to finish after a graceful shutdown starts.
    public var shutdownGracePeriod: Duration = .seconds(5)

    /// The defaults.
    public init() {}
}
