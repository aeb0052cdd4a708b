internal import Logging
internal import NIOCore
internal import SkyportInterop
internal import SkyportRPC

/// The client end of one HTTP/2 connection: opens streams for calls, moves messages both ways under
/// flow control, turns response headers, trailers and resets into statuses, and keeps the connection
/// alive with PINGs. Touched only on its event loop.
final class ClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private final class StreamEntry {
        let stream: H2ClientCallStream
        var inbound: InboundStreamFlow
        var headersReceived = false
        var sendClosed = false
        var writer: CheckedContinuation<Void, any Error>?
        /// Cancels the call with DEADLINE_EXCEEDED when its deadline passes; cancelled when it ends.
        var deadlineTimer: Scheduled<Void>?

        init(stream: H2ClientCallStream, inbound: InboundStreamFlow) {
            self.stream = stream
            self.inbound = inbound
        }
    }

    /// Succeeds once the connection can carry calls (after TLS, when used); fails if it closes first.
    let ready: EventLoopPromise<Void>
    private let session: NGHTTP2Session
    private let configuration: HTTP2ClientConfiguration
    private let authority: String
    private let scheme: String
    private let logger: Logger
    /// Called once the connection should take no new calls (GOAWAY received, or closed).
    private let onRetire: @Sendable () -> Void
    private var context: ChannelHandlerContext!
    private var streams: [Int32: StreamEntry] = [:]
    private var writersWaiting: Set<Int32> = []
    private var flushScheduled = false
    private var keepaliveTimer: RepeatedTask?
    private var pingOutstanding = false
    private var retired = false
    private var closed = false

    init(
        configuration: HTTP2ClientConfiguration, authority: String, eventLoop: any EventLoop, logger: Logger,
        onRetire: @escaping @Sendable () -> Void
    ) throws {
        self.session = try NGHTTP2Session(role: .client, settings: configuration.session)
        self.configuration = configuration
        self.authority = authority
        self.scheme = configuration.tls == nil ? "http" : "https"
        self.logger = logger
        self.onRetire = onRetire
        self.ready = eventLoop.makePromise()
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.becameActive() }
    }

    /// Breaks the handler ↔ context reference cycle once the pipeline lets go of the handler, and
    /// fails `ready` if the connection never got that far (a failed connect never goes inactive).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.ready.fail(RPCError(code: .unavailable, message: "Connection closed before it was ready"))
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        self.becameActive()
        context.fireChannelActive()
    }

    private func becameActive() {
        self.flush()
        if self.configuration.tls == nil { self.ready.succeed() }
        if let interval = self.configuration.keepaliveInterval {
            let bound = NIOLoopBound(self, eventLoop: self.context.eventLoop)
            self.keepaliveTimer = self.context.eventLoop.scheduleRepeatedTask(
                initialDelay: .init(interval), delay: .init(interval)
            ) { _ in bound.value.keepaliveTick() }
        }
    }

    /// Whether `identity` names the service `expected`: as its common name, or as the URI SAN
    /// `spiffe://<trustDomain>/<expected>` exactly (the form the server-side access policy accepts).
    static func names(_ identity: TLSIdentity?, _ expected: String, trustDomain: String) -> Bool {
        guard let identity else { return false }
        if identity.commonName == expected { return true }
        return identity.uris.contains("spiffe://\(trustDomain)/\(expected)")
    }

    /// A PING still unanswered one interval later means the peer is gone.
    private func keepaliveTick() {
        if self.pingOutstanding {
            self.logger.debug("closing connection: keepalive PING not answered")
            self.close()
            return
        }
        self.pingOutstanding = true
        self.session.ping()
        self.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let handshake = event as? TLSHandshakeCompleted {
            if let expected = self.configuration.tls?.expectedServerIdentity,
                !Self.names(handshake.peerIdentity, expected, trustDomain: self.configuration.tls?.trustDomain ?? "")
            {
                let presented = handshake.peerIdentity.map { "\($0)" } ?? "no certificate"
                self.logger.warning(
                    "closing connection: the server is not the expected service",
                    metadata: ["rpc.expected_identity": "\(expected)", "rpc.server_identity": "\(presented)"])
                self.ready.fail(
                    RPCError(code: .unavailable, message: "server identity '\(presented)' is not '\(expected)'"))
                self.close()
                return
            }
            self.ready.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try self.session.receive(self.unwrapInboundIn(data))
        } catch {
            self.logger.debug("closing connection: \(error)")
            self.processEvents()
            self.session.terminate(error.goAwayCode)
            self.flush()
            self.close()
            return
        }
        self.processEvents()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.flush() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        self.keepaliveTimer?.cancel()
        self.retire()
        self.ready.fail(RPCError(code: .unavailable, message: "Connection closed before it was ready"))
        let status = Status(code: .unavailable, message: "Connection closed")
        for (_, entry) in self.streams { self.end(entry, status, [:], keepMessages: false) }
        self.streams.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("connection error: \(error)")
        self.ready.fail(RPCError(code: .unavailable, message: "Connection failed: \(error)"))
        self.close()
    }

    // MARK: Calls

    /// The connection takes no new streams (the request was not sent).
    struct Closing: Error {}

    /// Opens a stream and sends the request headers. With a timeout, the call ends with DEADLINE_EXCEEDED
    /// at `deadline` (a timer on this event loop: no task and no thread of its own per call).
    ///
    /// - Throws: ``Closing`` when the connection takes no new streams.
    func openStream(
        method: MethodDescriptor, metadata: Metadata, options: CallOptions, deadline: NIODeadline?
    ) throws -> H2ClientCallStream {
        guard !self.retired, !self.closed else { throw Closing() }
        var fields = [
            HeaderField(":method", "POST"), HeaderField(":scheme", self.scheme),
            HeaderField(":path", method.path), HeaderField(":authority", self.authority),
            HeaderField("content-type", "application/grpc"), HeaderField("te", "trailers"),
            HeaderField("user-agent", "skyport-swift/0.1"),
        ]
        if let deadline {
            // What is left of it: time spent waiting for this connection counted already.
            let left = Duration.nanoseconds((deadline - NIODeadline.now()).nanoseconds)
            fields.append(HeaderField("grpc-timeout", GRPCTimeout.encode(left)))
        }
        ResponseHeaders.appendMetadata(metadata, to: &fields)
        let streamID: Int32
        do {
            streamID = try self.session.submitRequest(fields, hasBody: true)
        } catch {
            throw RPCError(code: .unavailable, message: "Cannot open a stream: \(error)")
        }
        let stream = H2ClientCallStream(
            streamID: streamID, connection: self, eventLoop: self.context.eventLoop,
            allocator: self.context.channel.allocator)
        let entry = StreamEntry(
            stream: stream,
            inbound: InboundStreamFlow(
                maxMessageSize: self.configuration.maxReceiveMessageSize,
                maxQueuedBytes: self.configuration.maxBufferedBytesPerStream))
        self.streams[streamID] = entry
        if let timeout = options.timeout, let deadline {
            entry.deadlineTimer = self.context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
                [self] in
                self.cancel(
                    streamID: streamID, RPCError(code: .deadlineExceeded, message: "Deadline of \(timeout) exceeded"))
            }
        }
        self.scheduleFlush()
        return stream
    }

    func enqueue(streamID: Int32, _ frame: ByteBuffer, _ continuation: CheckedContinuation<Void, any Error>) {
        guard let entry = self.streams[streamID], !entry.sendClosed, !entry.stream.isFinished else {
            continuation.resume(throwing: RPCError(code: .cancelled, message: "Call already ended"))
            return
        }
        self.session.enqueue(streamID: streamID, frame)
        self.scheduleFlush()
        if self.session.queuedBytes(streamID: streamID) > self.configuration.maxQueuedBytesPerStream {
            entry.writer = continuation
            self.writersWaiting.insert(streamID)
        } else {
            continuation.resume()
        }
    }

    func closeSend(streamID: Int32) {
        guard let entry = self.streams[streamID], !entry.sendClosed else { return }
        entry.sendClosed = true
        self.session.finish(streamID: streamID, trailers: nil)
        self.scheduleFlush()
    }

    func consumed(streamID: Int32, bytes: Int) {
        guard let entry = self.streams[streamID] else { return }
        let reopen = entry.inbound.read(wireBytes: bytes)
        if reopen > 0 {
            self.session.consumeStream(streamID, reopen)
            self.scheduleFlush()
        }
    }

    func cancel(streamID: Int32, _ error: RPCError) {
        guard let entry = self.streams.removeValue(forKey: streamID) else { return }
        self.end(entry, error.status, error.metadata, keepMessages: false)
        self.session.resetStream(streamID, .cancel)
        self.scheduleFlush()
    }

    private func end(_ entry: StreamEntry, _ status: Status, _ trailers: Metadata, keepMessages: Bool) {
        entry.deadlineTimer?.cancel()
        entry.deadlineTimer = nil
        entry.stream.publishStatus(status, trailers, keepMessages: keepMessages)
        entry.writer?.resume(throwing: RPCError(status: status, metadata: trailers))
        entry.writer = nil
        self.writersWaiting.remove(entry.stream.streamID)
    }

    // MARK: Session events

    private func processEvents() {
        while self.session.hasEvents {
            self.session.drainEvents { event in
                switch event {
                case .headers(let streamID, let fields, let endStream, let oversized):
                    self.receiveHeaders(streamID, fields, endStream: endStream, oversized: oversized)
                case .data(let streamID, let chunk):
                    self.receiveData(streamID, chunk)
                case .endStream(let streamID):
                    if let entry = self.streams[streamID] {
                        self.failStream(entry, Status(code: .internal, message: "Response ended without trailers"))
                    }
                case .streamClosed(let streamID, let errorCode):
                    self.writersWaiting.remove(streamID)
                    if let entry = self.streams.removeValue(forKey: streamID) {
                        let status =
                            errorCode == 0
                            ? Status(code: .internal, message: "Stream closed without a status")
                            : ResponseHead.status(forReset: errorCode)
                        self.end(entry, status, [:], keepMessages: false)
                    }
                    if self.retired && self.streams.isEmpty { self.close() }
                case .goaway(let lastStreamID, let errorCode):
                    self.logger.debug(
                        "GOAWAY received", metadata: ["h2.last_stream": "\(lastStreamID)", "h2.error": "\(errorCode)"])
                    self.retire()
                    if self.streams.isEmpty { self.close() }
                case .pingAck:
                    self.pingOutstanding = false
                case .sentEndStream, .settings:
                    break
                }
            }
        }
    }

    private func receiveHeaders(_ streamID: Int32, _ fields: [HeaderField], endStream: Bool, oversized: Bool) {
        guard let entry = self.streams[streamID] else { return }
        if oversized {
            self.failStream(entry, Status(code: .resourceExhausted, message: "Response header list too large"))
            return
        }
        if !entry.headersReceived && !endStream {
            entry.headersReceived = true
            let (metadata, failure) = ResponseHead.parseHeaders(fields)
            if let failure {
                self.failStream(entry, failure)
            } else {
                entry.stream.publishHeaders(metadata)
            }
            return
        }
        var (status, trailers) = ResponseHead.parseTrailers(fields)
        if entry.inbound.hasPartialMessage && status.code == .ok {
            status = Status(code: .internal, message: "Response ended in the middle of a message")
        }
        self.streams[streamID] = nil
        self.end(entry, status, trailers, keepMessages: true)
        if self.retired && self.streams.isEmpty { self.close() }
    }

    private func receiveData(_ streamID: Int32, _ chunk: ByteBuffer) {
        let count = chunk.readableBytes
        self.session.consumeConnection(count)
        guard let entry = self.streams[streamID] else {
            self.session.consumeStream(streamID, count)
            return
        }
        switch entry.inbound.receive(chunk, deliver: { entry.stream.inbound.append($0) }) {
        case .reopen(let bytes):
            self.session.consumeStream(streamID, bytes)
        case .failed(let status):
            self.failStream(entry, status)
        }
    }

    /// Ends a call on our side with `status` and resets its stream.
    private func failStream(_ entry: StreamEntry, _ status: Status) {
        let streamID = entry.stream.streamID
        self.streams[streamID] = nil
        self.end(entry, status, [:], keepMessages: false)
        self.session.resetStream(streamID, .cancel)
        self.scheduleFlush()
    }

    // MARK: Writing and lifecycle

    private func scheduleFlush() {
        guard !self.flushScheduled, !self.closed else { return }
        self.flushScheduled = true
        self.context.eventLoop.assumeIsolated().execute { [self] in
            self.flushScheduled = false
            self.flush()
        }
    }

    private func flush() {
        guard !self.closed, let context = self.context, context.channel.isActive else { return }
        do {
            try self.session.write(to: context) { self.processEvents() }
        } catch {
            self.logger.debug("closing connection: \(error)")
            self.close()
            return
        }
        if !self.writersWaiting.isEmpty {
            let lowWater = self.configuration.maxQueuedBytesPerStream / 2
            for streamID in self.writersWaiting where self.session.queuedBytes(streamID: streamID) <= lowWater {
                self.writersWaiting.remove(streamID)
                self.streams[streamID]?.writer?.resume()
                self.streams[streamID]?.writer = nil
            }
        }
    }

    private func retire() {
        guard !self.retired else { return }
        self.retired = true
        self.onRetire()
    }

    /// Closes the connection (GOAWAY first when it is still open).
    func close() {
        guard !self.closed, let context = self.context else { return }
        if context.channel.isActive {
            self.session.goAway(lastStreamID: 0, .noError)
            self.flush()
        }
        self.closed = true
        self.retire()
        context.close(promise: nil)
    }
}
