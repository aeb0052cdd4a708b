internal import CNGHTTP2
public import NIOCore

/// One HTTP/2 session (connection state, HPACK, flow control) driven through nghttp2's memory API.
///
/// The owner feeds received bytes to `receive(_:)`, drains what happened with `takeEvents()`, and
/// pulls bytes to write with `send(into:)`. Outgoing DATA is queued per stream here and handed to
/// nghttp2 as flow control allows. Not thread-safe: one event loop owns each session.
public final class NGHTTP2Session {
    /// Which end of the connection this session is.
    public enum Role: Sendable { case server, client }

    /// Outgoing DATA for one stream, waiting for nghttp2 to pull it.
    private struct Outbound {
        var chunks = CircularBuffer<ByteBuffer>()
        var queuedBytes = 0
        var ended = false
        var trailers: [HeaderField]?
        var deferred = false
    }

    /// Headers being collected for one header block.
    private struct PendingHeaders {
        var fields: [HeaderField] = []
        var size = 0
        var oversized = false

        /// Adds a field, or marks the block oversized (dropping what it held) once its size, counted
        /// as HTTP/2 does (name + value + 32 per field), passes `limit`.
        mutating func add(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, limit: Int) {
            self.size += name.count + value.count + 32
            if self.size > limit {
                self.oversized = true
                self.fields = []
            } else if !self.oversized {
                self.fields.append(
                    HeaderField(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
            }
        }
    }

    private var session: OpaquePointer!
    private let settings: HTTP2SessionSettings
    private var events: [HTTP2Event] = []
    /// The other half of the event double buffer (see `drainEvents`).
    private var spareEvents: [HTTP2Event] = []
    /// The header block being received. HTTP/2 never interleaves header blocks on a connection
    /// (HEADERS and its CONTINUATIONs are contiguous), so one slot is enough.
    private var pendingHeaders: (streamID: Int32, block: PendingHeaders)?
    private var outbound: [Int32: Outbound] = [:]
    /// DATA bytes queued over all streams.
    public private(set) var totalQueuedBytes = 0
    /// The buffer being received, so DATA chunks that point into it can be sliced rather than copied.
    private var receiving: (base: UnsafeRawPointer, buffer: ByteBuffer)?

    /// Creates a session and queues our SETTINGS (and, for a client, the connection preface).
    ///
    /// - Throws: `NGHTTP2Error` when nghttp2 cannot allocate the session.
    public init(role: Role, settings: HTTP2SessionSettings) throws {
        self.settings = settings
        var callbacks: OpaquePointer?
        try check(nghttp2_session_callbacks_new(&callbacks))
        defer { nghttp2_session_callbacks_del(callbacks) }
        installCallbacks(callbacks)

        var option: OpaquePointer?
        try check(nghttp2_option_new(&option))
        defer { nghttp2_option_del(option) }
        // Flow control is ours: the receive window reopens only as the application consumes data.
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_no_closed_streams(option, 1)
        nghttp2_option_set_max_continuations(option, settings.maxContinuations)
        nghttp2_option_set_max_outbound_ack(option, settings.maxOutboundAck)
        nghttp2_option_set_max_settings(option, settings.maxSettingsEntries)
        if role == .server {
            nghttp2_option_set_stream_reset_rate_limit(option, settings.streamResetBurst, settings.streamResetRate)
        }

        let userData = Unmanaged.passUnretained(self).toOpaque()
        var session: OpaquePointer?
        switch role {
        case .server: try check(nghttp2_session_server_new2(&session, callbacks, userData, option))
        case .client: try check(nghttp2_session_client_new2(&session, callbacks, userData, option))
        }
        self.session = session

        var entries = [
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                value: UInt32(settings.maxConcurrentStreams)),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                value: UInt32(settings.initialStreamWindowSize)),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                value: UInt32(settings.maxHeaderListSize)),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: UInt32(settings.maxFrameSize)),
        ]
        if role == .client {
            entries.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        try check(nghttp2_submit_settings(self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), entries, entries.count))
        try check(
            nghttp2_session_set_local_window_size(
                self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(settings.connectionWindowSize)))
    }

    deinit {
        nghttp2_session_del(self.session)
    }

    // MARK: Receiving

    /// Processes received bytes. Afterwards `takeEvents()` returns what they contained.
    ///
    /// - Throws: `NGHTTP2Error` when the peer broke the protocol or flooded the session; the caller
    ///   should `terminate` with the error's `goAwayCode`, send, and close.
    public func receive(_ buffer: ByteBuffer) throws(NGHTTP2Error) {
        let result = buffer.withUnsafeReadableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            self.receiving = (base, buffer)
            defer { self.receiving = nil }
            return nghttp2_session_mem_recv(self.session, base.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        if result < 0 { throw NGHTTP2Error(code: Int32(result)) }
    }

    /// Hands every event gathered since the last call to `body`, in order, then clears them (keeping
    /// the buffer for the next batch).
    ///
    /// Events leave the session before `body` sees them, so a handler that re-enters (sending, which
    /// gathers new events, then draining again) never sees an event twice. Two buffers alternate, so
    /// steady operation allocates nothing.
    public func drainEvents(_ body: (HTTP2Event) -> Void) {
        var batch: [HTTP2Event] = []
        swap(&batch, &self.spareEvents)
        swap(&batch, &self.events)
        for event in batch { body(event) }
        batch.removeAll(keepingCapacity: true)
        self.spareEvents = batch
    }

    /// Whether there are events to take.
    public var hasEvents: Bool { !self.events.isEmpty }

    /// Tells nghttp2 the application consumed `count` bytes of `streamID`'s DATA, reopening the stream
    /// window by that much.
    public func consumeStream(_ streamID: Int32, _ count: Int) {
        guard count > 0 else { return }
        _ = nghttp2_session_consume_stream(self.session, streamID, count)
    }

    /// Reopens the connection-level receive window by `count` bytes.
    public func consumeConnection(_ count: Int) {
        guard count > 0 else { return }
        _ = nghttp2_session_consume_connection(self.session, count)
    }

    // MARK: Sending

    /// Appends every pending frame to `buffer`, up to about `limit` bytes.
    ///
    /// - Returns: whether more frames are pending beyond the limit.
    /// - Throws: `NGHTTP2Error` on a fatal session error.
    @discardableResult
    public func send(into buffer: inout ByteBuffer, limit: Int = 1 << 20) throws(NGHTTP2Error) -> Bool {
        var written = 0
        while written < limit {
            var pointer: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(self.session, &pointer)
            if count < 0 { throw NGHTTP2Error(code: Int32(count)) }
            guard count > 0, let pointer else { return false }
            buffer.writeBytes(UnsafeRawBufferPointer(start: pointer, count: count))
            written += count
        }
        return nghttp2_session_want_write(self.session) != 0
    }

    /// Whether the session is still open: false once GOAWAY was exchanged and every stream is closed,
    /// or after a fatal error.
    public var isAlive: Bool {
        nghttp2_session_want_read(self.session) != 0 || nghttp2_session_want_write(self.session) != 0
    }

    /// Submits a request (client). When `hasBody` is true, DATA comes from `enqueue` and `finish`.
    ///
    /// - Returns: the new stream's id.
    /// - Throws: `NGHTTP2Error`, e.g. when no more streams can be opened after GOAWAY.
    public func submitRequest(_ fields: [HeaderField], hasBody: Bool) throws -> Int32 {
        let streamID = withNameValues(fields) { nva, count -> Int32 in
            if hasBody {
                var provider = Self.dataProvider
                return nghttp2_submit_request(self.session, nil, nva, count, &provider, nil)
            }
            return nghttp2_submit_request(self.session, nil, nva, count, nil, nil)
        }
        try check(streamID)
        if hasBody { self.outbound[streamID] = Outbound() }
        return streamID
    }

    /// Submits response headers (server). When `hasBody` is false the headers end the stream
    /// (a trailers-only response).
    public func submitResponse(streamID: Int32, _ fields: [HeaderField], hasBody: Bool) throws {
        let rv = withNameValues(fields) { nva, count -> Int32 in
            if hasBody {
                var provider = Self.dataProvider
                return nghttp2_submit_response(self.session, streamID, nva, count, &provider)
            }
            return nghttp2_submit_response(self.session, streamID, nva, count, nil)
        }
        try check(rv)
        if hasBody { self.outbound[streamID] = Outbound() }
    }

    /// Queues DATA for a stream submitted with a body.
    public func enqueue(streamID: Int32, _ data: ByteBuffer) {
        let resume = self.modifyOutbound(streamID) { out -> Bool in
            guard !out.ended else { return false }
            out.queuedBytes += data.readableBytes
            self.totalQueuedBytes += data.readableBytes
            out.chunks.append(data)
            defer { out.deferred = false }
            return out.deferred
        }
        if resume == true { _ = nghttp2_session_resume_data(self.session, streamID) }
    }

    /// Ends a stream's body after the queued DATA: with END_STREAM on the last DATA frame, or with a
    /// trailing HEADERS frame carrying `trailers`.
    public func finish(streamID: Int32, trailers: [HeaderField]?) {
        let resume = self.modifyOutbound(streamID) { out -> Bool in
            guard !out.ended else { return false }
            out.ended = true
            out.trailers = trailers
            defer { out.deferred = false }
            return out.deferred
        }
        if resume == true { _ = nghttp2_session_resume_data(self.session, streamID) }
    }

    /// Forgets a stream's outgoing DATA (reset or closed) and its share of `totalQueuedBytes`.
    private func dropOutbound(_ streamID: Int32) {
        if let out = self.outbound.removeValue(forKey: streamID) { self.totalQueuedBytes -= out.queuedBytes }
    }

    /// Mutates a stream's outgoing state in place (a copy would duplicate its chunk queue).
    private func modifyOutbound<R>(_ streamID: Int32, _ body: (inout Outbound) -> R) -> R? {
        guard let index = self.outbound.index(forKey: streamID) else { return nil }
        return body(&self.outbound.values[index])
    }

    /// Bytes of DATA queued for `streamID` and not yet handed to nghttp2.
    public func queuedBytes(streamID: Int32) -> Int {
        self.outbound[streamID]?.queuedBytes ?? 0
    }

    /// Whether the peer has half-closed `streamID` (or it no longer exists).
    public func isRemoteClosed(streamID: Int32) -> Bool {
        nghttp2_session_get_stream_remote_close(self.session, streamID) != 0
    }

    /// Resets a stream.
    public func resetStream(_ streamID: Int32, _ code: HTTP2ErrorCode) {
        self.dropOutbound(streamID)
        _ = nghttp2_submit_rst_stream(self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, code.rawValue)
    }

    /// Sends a PING.
    public func ping() {
        _ = nghttp2_submit_ping(self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
    }

    /// The id of the last stream the peer opened that we processed (for GOAWAY).
    public var lastProcessedStreamID: Int32 {
        nghttp2_session_get_last_proc_stream_id(self.session)
    }

    /// Sends GOAWAY: no streams above `lastStreamID` will be processed.
    public func goAway(lastStreamID: Int32, _ code: HTTP2ErrorCode) {
        _ = nghttp2_submit_goaway(
            self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), lastStreamID, code.rawValue, nil, 0)
    }

    /// Sends the graceful-shutdown notice (a GOAWAY with the maximum stream id), so the peer stops
    /// opening streams while in-flight ones finish.
    public func shutdownNotice() {
        _ = nghttp2_submit_shutdown_notice(self.session)
    }

    /// Ends the session with GOAWAY(`code`); nothing more is processed.
    public func terminate(_ code: HTTP2ErrorCode) {
        _ = nghttp2_session_terminate_session(self.session, code.rawValue)
    }

    // MARK: Callbacks

    private static var dataProvider: nghttp2_data_provider {
        nghttp2_data_provider(
            source: nghttp2_data_source(ptr: nil),
            read_callback: { _, streamID, buf, length, flags, _, userData in
                NGHTTP2Session.from(userData).readData(streamID: streamID, into: buf!, length: length, flags: flags!)
            })
    }

    private static func from(_ userData: UnsafeMutableRawPointer?) -> NGHTTP2Session {
        Unmanaged<NGHTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
    }

    private func readData(
        streamID: Int32, into buf: UnsafeMutablePointer<UInt8>, length: Int,
        flags: UnsafeMutablePointer<UInt32>
    ) -> Int {
        enum Outcome { case data(Int), end(Int, [HeaderField]?), deferred }
        let outcome = self.modifyOutbound(streamID) { out -> Outcome in
            var written = 0
            while written < length, !out.chunks.isEmpty {
                let n = min(length - written, out.chunks[out.chunks.startIndex].readableBytes)
                out.chunks[out.chunks.startIndex].withUnsafeReadableBytes { raw in
                    (buf + written).update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n)
                }
                out.chunks[out.chunks.startIndex].moveReaderIndex(forwardBy: n)
                written += n
                if out.chunks[out.chunks.startIndex].readableBytes == 0 { out.chunks.removeFirst() }
            }
            out.queuedBytes -= written
            self.totalQueuedBytes -= written
            if out.chunks.isEmpty && out.ended { return .end(written, out.trailers) }
            if written == 0 {
                out.deferred = true
                return .deferred
            }
            return .data(written)
        }
        switch outcome {
        case nil:
            return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        case .deferred:
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        case .data(let written):
            return written
        case .end(let written, let trailers):
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            if let trailers {
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                _ = withNameValues(trailers) { nva, count in
                    nghttp2_submit_trailer(self.session, streamID, nva, count)
                }
            }
            self.outbound[streamID] = nil
            return written
        }
    }

    private func installCallbacks(_ callbacks: OpaquePointer?) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            let this = NGHTTP2Session.from(userData)
            var block = PendingHeaders()
            block.fields.reserveCapacity(8)
            this.pendingHeaders = (frame!.pointee.hd.stream_id, block)
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) {
            _, frame, name, nameLength, value, valueLength, _, userData in
            let this = NGHTTP2Session.from(userData)
            guard this.pendingHeaders?.streamID == frame!.pointee.hd.stream_id else { return 0 }
            // Mutated in place: copying the block out and back would copy its array per header.
            this.pendingHeaders!.block.add(
                name: UnsafeBufferPointer(start: name, count: nameLength),
                value: UnsafeBufferPointer(start: value, count: valueLength), limit: this.settings.maxHeaderListSize)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            let this = NGHTTP2Session.from(userData)
            let hd = frame!.pointee.hd
            let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            switch UInt32(hd.type) {
            case NGHTTP2_HEADERS.rawValue:
                var pending = PendingHeaders()
                if let current = this.pendingHeaders, current.streamID == hd.stream_id {
                    pending = current.block
                    this.pendingHeaders = nil
                }
                this.events.append(
                    .headers(
                        streamID: hd.stream_id, fields: pending.fields, endStream: endStream,
                        oversized: pending.oversized))
            case NGHTTP2_DATA.rawValue:
                if endStream { this.events.append(.endStream(streamID: hd.stream_id)) }
            case NGHTTP2_GOAWAY.rawValue:
                let goaway = frame!.pointee.goaway
                this.events.append(.goaway(lastStreamID: goaway.last_stream_id, errorCode: goaway.error_code))
            case NGHTTP2_PING.rawValue:
                if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 { this.events.append(.pingAck) }
            case NGHTTP2_SETTINGS.rawValue:
                if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 { this.events.append(.settings) }
            default:
                break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) {
            _, _, streamID, data, length, userData in
            let this = NGHTTP2Session.from(userData)
            this.events.append(.data(streamID: streamID, this.buffer(for: data!, length: length)))
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            let this = NGHTTP2Session.from(userData)
            this.dropOutbound(streamID)
            if this.pendingHeaders?.streamID == streamID { this.pendingHeaders = nil }
            this.events.append(.streamClosed(streamID: streamID, errorCode: errorCode))
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { _, frame, userData in
            let hd = frame!.pointee.hd
            let type = UInt32(hd.type)
            if (type == NGHTTP2_HEADERS.rawValue || type == NGHTTP2_DATA.rawValue)
                && hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            {
                NGHTTP2Session.from(userData).events.append(.sentEndStream(streamID: hd.stream_id))
            }
            return 0
        }
    }

    /// A DATA chunk as a buffer: a slice of the buffer being received when the chunk lies inside it
    /// (the usual case), a copy otherwise (e.g. padded frames).
    private func buffer(for data: UnsafePointer<UInt8>, length: Int) -> ByteBuffer {
        if let (base, buffer) = self.receiving {
            let offset = UnsafeRawPointer(data) - base
            if offset >= 0, offset + length <= buffer.readableBytes,
                let slice = buffer.getSlice(at: buffer.readerIndex + offset, length: length)
            {
                return slice
            }
        }
        var copy = ByteBufferAllocator().buffer(capacity: length)
        copy.writeBytes(UnsafeRawBufferPointer(start: data, count: length))
        return copy
    }
}

extension NGHTTP2Error {
    init(code: Int32) {
        self.init(code: code, message: String(cString: nghttp2_strerror(code)))
    }
}

private func check(_ rv: Int32) throws {
    if rv < 0 { throw NGHTTP2Error(code: rv) }
}

/// Calls `body` with an `nghttp2_nv` array over `fields`; the pointers are valid only inside `body`
/// (nghttp2 copies them on submission).
private func withNameValues<R>(_ fields: [HeaderField], _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
    var storage = [UInt8]()
    storage.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count })
    for field in fields {
        storage.append(contentsOf: field.name.utf8)
        storage.append(contentsOf: field.value.utf8)
    }
    return storage.withUnsafeMutableBufferPointer { bytes in
        var nvs = [nghttp2_nv]()
        nvs.reserveCapacity(fields.count)
        var offset = 0
        let base = bytes.baseAddress ?? UnsafeMutablePointer<UInt8>(bitPattern: 1)!
        for field in fields {
            let nameLength = field.name.utf8.count
            let valueLength = field.value.utf8.count
            nvs.append(
                nghttp2_nv(
                    name: base + offset, value: base + offset + nameLength, namelen: nameLength,
                    valuelen: valueLength, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
            offset += nameLength + valueLength
        }
        return nvs.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
    }
}
