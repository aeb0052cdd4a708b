public import NIOCore

/// One HTTP/2 header field.
public struct HeaderField: Sendable, Hashable {
    /// The lower-case field name (pseudo-headers start with `:`).
    public var name: String
    /// The field value.
    public var value: String

    /// Creates a field.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// HTTP/2 error codes used on RST_STREAM and GOAWAY (RFC 9113 §7).
public enum HTTP2ErrorCode: UInt32, Sendable {
    case noError = 0x0
    case protocolError = 0x1
    case internalError = 0x2
    case flowControlError = 0x3
    case settingsTimeout = 0x4
    case streamClosed = 0x5
    case frameSizeError = 0x6
    case refusedStream = 0x7
    case cancel = 0x8
    case compressionError = 0x9
    case connectError = 0xA
    case enhanceYourCalm = 0xB
    case inadequateSecurity = 0xC
    case http11Required = 0xD
}

/// Something the peer did, reported by `NGHTTP2Session` after it processes received bytes.
public enum HTTP2Event {
    /// A complete header block (request or response headers, or trailers).
    case headers(streamID: Int32, fields: [HeaderField], endStream: Bool, oversized: Bool)
    /// A chunk of a DATA frame's payload.
    case data(streamID: Int32, ByteBuffer)
    /// The peer half-closed the stream with a DATA frame's END_STREAM flag.
    case endStream(streamID: Int32)
    /// The stream is closed; `errorCode` is `.noError` for a normal close.
    case streamClosed(streamID: Int32, errorCode: UInt32)
    /// The peer sent GOAWAY.
    case goaway(lastStreamID: Int32, errorCode: UInt32)
    /// The peer acknowledged one of our PINGs.
    case pingAck
    /// The peer sent its SETTINGS (not an acknowledgement): for a server, the client preface is complete.
    case settings
    /// We finished sending a stream's last frame (END_STREAM).
    case sentEndStream(streamID: Int32)
}

/// Settings and protections for one HTTP/2 session.
public struct HTTP2SessionSettings: Sendable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS we advertise.
    public var maxConcurrentStreams: Int = 100
    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertise and enforce on received header blocks.
    public var maxHeaderListSize: Int = 16 * 1024
    /// SETTINGS_INITIAL_WINDOW_SIZE for streams.
    public var initialStreamWindowSize: Int = 1 << 20
    /// The connection-level receive window.
    public var connectionWindowSize: Int = 8 << 20
    /// SETTINGS_MAX_FRAME_SIZE we accept.
    public var maxFrameSize: Int = 1 << 14
    /// Rapid-reset protection: the token bucket for received RST_STREAM frames (burst, per second).
    public var streamResetBurst: UInt64 = 1000
    /// Tokens regained per second for the rapid-reset bucket.
    public var streamResetRate: UInt64 = 33
    /// CONTINUATION frames accepted after one HEADERS frame (CONTINUATION flood protection).
    public var maxContinuations: Int = 8
    /// Queued SETTINGS/PING acknowledgements before the peer is treated as flooding.
    public var maxOutboundAck: Int = 1000
    /// Entries accepted in one SETTINGS frame.
    public var maxSettingsEntries: Int = 32

    /// The defaults.
    public init() {}
}

/// nghttp2 reported a failure; `code` is its negative error code.
public struct NGHTTP2Error: Error, Sendable, CustomStringConvertible {
    /// The nghttp2 error code.
    public var code: Int32
    /// nghttp2's description of the code.
    public var message: String

    /// `nghttp2: message (code)`.
    public var description: String { "nghttp2: \(self.message) (\(self.code))" }

    /// The GOAWAY code to end the connection with: ENHANCE_YOUR_CALM for floods (NGHTTP2_ERR_FLOODED,
    /// -904; too many CONTINUATION frames, -905), PROTOCOL_ERROR otherwise.
    public var goAwayCode: HTTP2ErrorCode {
        self.code == -904 || self.code == -905 ? .enhanceYourCalm : .protocolError
    }
}
