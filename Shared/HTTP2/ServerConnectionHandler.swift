internal import Logging
internal import NIOCore
internal import SkyportInterop
internal import SkyportRPC
internal import Synchronization

/// Serves gRPC on one HTTP/2 connection: feeds bytes to nghttp2, routes new streams to handler
/// tasks, moves messages both ways under flow control, and enforces deadlines and limits.
///
/// It owns all connection state and is touched only on its event loop.
final class ServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    /// Fired through the pipeline to start a graceful shutdown of this connection.
    struct GracefulShutdown: Sendable {
        var gracePeriod: Duration
    }

    /// The answer to a handler enqueueing a response message.
    enum EnqueueResult {
        case accepted
        case full
        case closed(RPCError)
    }

    /// Loop-bound state of one routed stream.
    private final class StreamEntry {
        let stream: H2ServerCallStream
        var machine = ServerStreamStateMachine()
        var inbound: InboundStreamFlow
        var task: Task<Void, Never>?
        var deadlineTimer: Scheduled<Void>?
        /// Received bytes not yet taken by the handler (partial message + queued messages).
        var unreadBytes = 0
        var inputRejected = false
        var writer: CheckedContinuation<Void, any Error>?

        init(stream: H2ServerCallStream, inbound: InboundStreamFlow) {
            self.stream = stream
            self.inbound = inbound
        }
    }

    private let session: NGHTTP2Session
    private let router: Router
    private let configuration: HTTP2ServerConfiguration
    private let logger: Logger
    private var context: ChannelHandlerContext!
    private var executor: EventLoopTaskExecutor!
    private var peer = PeerInfo(address: "unknown")
    private var streams: [Int32: StreamEntry] = [:]
    /// Rejected streams still open: their data is dropped and they are reset after our END_STREAM.
    private var rejectedStreams: Set<Int32> = []
    private var writersWaiting: Set<Int32> = []
    private var bufferedBytes = 0
    private var heldConnectionWindow = 0
    private var flushScheduled = false
    private var handshakeTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    /// When the connection last became idle (no streams); `nil` while streams are active.
    private var idleSince: NIODeadline?
    private var graceTimer: Scheduled<Void>?
    private var draining = false
    private var closed = false

    /// Counts this server's handler tasks until they have returned.
    private let handlerTasks: LiveCount

    /// Counts this server's connection handlers until they are freed.
    private let connectionHandlers: LiveCount

    init(
        router: Router, configuration: HTTP2ServerConfiguration, handlerTasks: LiveCount,
        connectionHandlers: LiveCount, logger: Logger
    ) throws {
        self.session = try NGHTTP2Session(role: .server, settings: configuration.session)
        self.handlerTasks = handlerTasks
        self.router = router
        self.configuration = configuration
        self.logger = logger
        self.connectionHandlers = connectionHandlers
        connectionHandlers.started()
    }

    deinit {
        self.connectionHandlers.finished()
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.executor = EventLoopTaskExecutor(eventLoop: context.eventLoop)
        if let address = context.channel.remoteAddress {
            self.peer = PeerInfo(address: Self.describe(address))
        }
        self.handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(
            in: .init(self.configuration.handshakeTimeout)
        ) {
            [self] in
            self.logger.debug("closing connection: handshake timeout", metadata: ["peer": "\(self.peer)"])
            self.close()
        }
    }

    /// Breaks the handler ↔ context reference cycle once the pipeline lets go of the handler.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if let address = context.channel.remoteAddress, self.peer.address == "unknown" {
            self.peer = PeerInfo(address: Self.describe(address))
        }
        self.flush()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        do {
            try self.session.receive(buffer)
        } catch {
            self.logger.debug("closing connection: \(error)", metadata: ["peer": "\(self.peer)"])
            self.failConnection(error)
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

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let handshake = event as? TLSHandshakeCompleted {
            self.peer.identity = handshake.peerIdentity
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let shutdown = event as? GracefulShutdown {
            self.beginGracefulShutdown(gracePeriod: shutdown.gracePeriod)
            promise?.succeed()
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        for timer in [self.handshakeTimer, self.idleTimer, self.graceTimer] { timer?.cancel() }
        let error = RPCError(code: .unavailable, message: "Connection closed")
        for (_, entry) in self.streams { self.abandon(entry, error) }
        self.streams.removeAll()
        context.fireChannelInactive()
    }

    /// nghttp2 found the peer misbehaving (a flood, a protocol error): GOAWAY with the matching code,
    /// then close.
    private func failConnection(_ error: NGHTTP2Error) {
        self.processEvents()
        self.session.terminate(error.goAwayCode)
        self.flush()
        self.close()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("connection error: \(error)", metadata: ["peer": "\(self.peer)"])
        self.close()
    }

    // MARK: Session events

    private func processEvents() {
        while self.session.hasEvents {
            self.session.drainEvents { event in
                switch event {
                case .headers(let streamID, let fields, let endStream, let oversized):
                    if let entry = self.streams[streamID] {
                        // Trailers from a client: gRPC has none, but they end the request stream.
                        if endStream { self.endOfInput(entry) }
                    } else {
                        self.openStream(streamID, fields: fields, endStream: endStream, oversized: oversized)
                    }
                case .data(let streamID, let chunk):
                    self.receiveData(streamID, chunk)
                case .endStream(let streamID):
                    if let entry = self.streams[streamID] { self.endOfInput(entry) }
                case .streamClosed(let streamID, let errorCode):
                    self.streamClosed(streamID, errorCode: errorCode)
                case .sentEndStream(let streamID):
                    self.sentEndStream(streamID)
                case .settings:
                    // The client preface is complete: the handshake timeout no longer applies.
                    if let timer = self.handshakeTimer {
                        timer.cancel()
                        self.handshakeTimer = nil
                        if self.streams.isEmpty { self.armIdleTimer() }
                    }
                case .goaway, .pingAck:
                    break
                }
            }
        }
    }

    private func openStream(_ streamID: Int32, fields: [HeaderField], endStream: Bool, oversized: Bool) {
        if oversized {
            self.reject(
                streamID,
                ResponseHeaders.trailersOnly(
                    Status(code: .resourceExhausted, message: "Header list larger than the server accepts"), [:]),
                endStream: endStream)
            return
        }
        let head: RequestHead
        switch RequestHead.validate(fields) {
        case .rejectHTTP(let httpStatus, let status):
            self.reject(
                streamID, ResponseHeaders.trailersOnly(status, [:], httpStatus: httpStatus), endStream: endStream)
            return
        case .reject(let status, let extra):
            self.reject(streamID, ResponseHeaders.trailersOnly(status, [:], extra: extra), endStream: endStream)
            return
        case .accept(let accepted):
            head = accepted
        }
        guard let method = self.router.method(forPath: head.path) else {
            self.reject(
                streamID, ResponseHeaders.trailersOnly(self.router.unimplementedStatus(forPath: head.path), [:]),
                endStream: endStream)
            return
        }
        let stream = H2ServerCallStream(
            streamID: streamID, connection: self, eventLoop: self.context.eventLoop,
            allocator: self.context.channel.allocator)
        let entry = StreamEntry(
            stream: stream,
            inbound: InboundStreamFlow(
                maxMessageSize: self.configuration.maxReceiveMessageSize,
                maxQueuedBytes: self.configuration.maxBufferedBytesPerStream))
        self.streams[streamID] = entry
        self.idleSince = nil
        if endStream { self.endOfInput(entry) }

        let deadline = head.timeout.map { ContinuousClock.now + $0 }
        if let timeout = head.timeout {
            entry.deadlineTimer = self.context.eventLoop.assumeIsolated().scheduleTask(in: .init(timeout)) { [self] in
                self.deadlineExceeded(streamID)
            }
        }
        let callContext = ServerContext(
            method: method.descriptor, requestMetadata: head.metadata, peer: self.peer, deadline: deadline)
        let router = self.router
        let handlerTasks = self.handlerTasks
        handlerTasks.started()
        entry.task = Task(executorPreference: self.executor) {
            defer { handlerTasks.finished() }
            await router.run(method, stream: stream, context: callContext)
        }
    }

    private func reject(_ streamID: Int32, _ fields: [HeaderField], endStream: Bool) {
        do {
            try self.session.submitResponse(streamID: streamID, fields, hasBody: false)
            if !endStream { self.rejectedStreams.insert(streamID) }
        } catch {
            self.session.resetStream(streamID, .internalError)
        }
    }

    private func endOfInput(_ entry: StreamEntry) {
        if entry.inbound.hasPartialMessage && !entry.inputRejected {
            self.failInput(entry, Status(code: .internal, message: "Stream ended in the middle of a message"))
        } else {
            entry.stream.inbound.finish()
        }
    }

    private func receiveData(_ streamID: Int32, _ chunk: ByteBuffer) {
        let count = chunk.readableBytes
        self.bufferedBytes += count
        if self.bufferedBytes <= self.configuration.maxBufferedBytesPerConnection {
            self.session.consumeConnection(count)
        } else {
            self.heldConnectionWindow += count
        }
        guard let entry = self.streams[streamID], !entry.inputRejected else {
            self.session.consumeStream(streamID, count)
            self.release(count)
            return
        }
        entry.unreadBytes += count
        switch entry.inbound.receive(chunk, deliver: { entry.stream.inbound.append($0) }) {
        case .reopen(let bytes):
            self.session.consumeStream(streamID, bytes)
        case .failed(let status):
            self.failInput(entry, status)
            self.session.consumeStream(streamID, count)
        }
    }

    /// The request stream broke a rule: end the call with `status` and stop reading it.
    private func failInput(_ entry: StreamEntry, _ status: Status) {
        entry.inputRejected = true
        self.release(entry.unreadBytes)
        entry.unreadBytes = 0
        entry.task?.cancel()
        entry.stream.inbound.fail(RPCError(status: status))
        self.finish(streamID: entry.stream.streamID, status: status, trailers: [:])
    }

    /// A handler took a message of `bytes` wire bytes: reopen the windows it held.
    func consumed(streamID: Int32, bytes: Int) {
        guard let entry = self.streams[streamID], !entry.inputRejected else { return }
        entry.unreadBytes -= bytes
        self.release(bytes)
        let reopen = entry.inbound.read(wireBytes: bytes)
        if reopen > 0 {
            self.session.consumeStream(streamID, reopen)
            self.scheduleFlush()
        }
    }

    private func release(_ bytes: Int) {
        self.bufferedBytes -= bytes
        if self.heldConnectionWindow > 0 && self.bufferedBytes <= self.configuration.maxBufferedBytesPerConnection {
            self.session.consumeConnection(self.heldConnectionWindow)
            self.heldConnectionWindow = 0
            self.scheduleFlush()
        }
    }

    private func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        self.rejectedStreams.remove(streamID)
        guard let entry = self.streams.removeValue(forKey: streamID) else { return }
        self.release(entry.unreadBytes)
        entry.deadlineTimer?.cancel()
        if entry.machine.isFinished {
            entry.stream.inbound.finish()
            entry.writer?.resume(throwing: RPCError(code: .cancelled, message: "Call already ended"))
        } else {
            let code = HTTP2ErrorCode(rawValue: errorCode) ?? .internalError
            self.abandon(entry, RPCError(code: .cancelled, message: "Client reset the stream (\(code))"))
        }
        entry.writer = nil
        self.writersWaiting.remove(streamID)
        if self.streams.isEmpty {
            if self.draining { self.closeWhenFlushed() } else { self.armIdleTimer() }
        }
    }

    /// The stream ended without our status (reset by the client, or the connection died): cancel
    /// the handler and fail whatever it waits on.
    private func abandon(_ entry: StreamEntry, _ error: RPCError) {
        entry.machine.reset()
        entry.deadlineTimer?.cancel()
        entry.task?.cancel()
        entry.stream.inbound.fail(error)
        entry.writer?.resume(throwing: error)
        entry.writer = nil
    }

    /// Our status went out while the client may still be sending (an early error, a deadline, a
    /// handler that finished first): RST_STREAM(NO_ERROR) tells it to stop without voiding the status
    /// (RFC 9113 §8.1). A CANCEL here would make gRPC clients report CANCELLED instead of the status.
    private func sentEndStream(_ streamID: Int32) {
        let known = self.rejectedStreams.remove(streamID) != nil || self.streams[streamID] != nil
        if known && !self.session.isRemoteClosed(streamID: streamID) {
            self.session.resetStream(streamID, .noError)
        }
    }

    private func deadlineExceeded(_ streamID: Int32) {
        guard let entry = self.streams[streamID], !entry.machine.isFinished else { return }
        let status = Status(code: .deadlineExceeded, message: "Deadline exceeded")
        entry.task?.cancel()
        entry.stream.inbound.fail(RPCError(status: status))
        self.finish(streamID: streamID, status: status, trailers: [:])
    }

    // MARK: Called by streams (on the loop)

    func sendHeaders(streamID: Int32, _ metadata: Metadata) {
        guard let entry = self.streams[streamID], entry.machine.sendHeaders() == .submitHeaders else { return }
        self.submitHeaders(streamID, metadata)
    }

    func enqueue(streamID: Int32, _ frame: ByteBuffer) -> EnqueueResult {
        guard let entry = self.streams[streamID] else {
            return .closed(RPCError(code: .cancelled, message: "Call already ended"))
        }
        switch entry.machine.sendMessage() {
        case .reject:
            return .closed(RPCError(code: .cancelled, message: "Call already ended"))
        case .submitHeadersThenData:
            self.submitHeaders(streamID, [:])
        case .submitData:
            break
        }
        self.session.enqueue(streamID: streamID, frame)
        self.scheduleFlush()
        return self.hasRoom(streamID) ? .accepted : .full
    }

    /// Whether a writer on `streamID` may queue more: its stream and the connection are both under
    /// their limits.
    private func hasRoom(_ streamID: Int32, fraction: Int = 1) -> Bool {
        self.session.queuedBytes(streamID: streamID) <= self.configuration.maxQueuedBytesPerStream / fraction
            && self.session.totalQueuedBytes <= self.configuration.maxQueuedBytesPerConnection / fraction
    }

    func waitForCapacity(streamID: Int32, _ continuation: CheckedContinuation<Void, any Error>) {
        guard let entry = self.streams[streamID], !entry.machine.isFinished else {
            continuation.resume(throwing: RPCError(code: .cancelled, message: "Call already ended"))
            return
        }
        if self.hasRoom(streamID) {
            continuation.resume()
        } else {
            entry.writer = continuation
            self.writersWaiting.insert(streamID)
        }
    }

    func finish(streamID: Int32, status: Status, trailers: Metadata) {
        guard let entry = self.streams[streamID] else { return }
        switch entry.machine.finish() {
        case .none:
            return
        case .submitTrailersOnly:
            do {
                try self.session.submitResponse(
                    streamID: streamID, ResponseHeaders.trailersOnly(status, trailers), hasBody: false)
            } catch {
                self.session.resetStream(streamID, .internalError)
            }
        case .submitTrailers:
            self.session.finish(streamID: streamID, trailers: ResponseHeaders.trailers(status, trailers))
        }
        entry.deadlineTimer?.cancel()
        entry.deadlineTimer = nil
        self.scheduleFlush()
    }

    private func submitHeaders(_ streamID: Int32, _ metadata: Metadata) {
        do {
            try self.session.submitResponse(streamID: streamID, ResponseHeaders.headers(metadata), hasBody: true)
        } catch {
            self.session.resetStream(streamID, .internalError)
        }
    }

    // MARK: Writing

    private func scheduleFlush() {
        guard !self.flushScheduled, !self.closed else { return }
        self.flushScheduled = true
        self.context.eventLoop.assumeIsolated().execute { [self] in
            self.flushScheduled = false
            self.flush()
        }
    }

    /// Writes what nghttp2 has to send, as far as the channel is writable, then wakes writers whose
    /// streams drained.
    private func flush() {
        guard !self.closed, let context = self.context else { return }
        do {
            try self.session.write(to: context) { self.processEvents() }
        } catch {
            self.logger.debug("closing connection: \(error)", metadata: ["peer": "\(self.peer)"])
            self.close()
            return
        }
        self.wakeWriters()
        if !self.session.isAlive { self.close() }
    }

    private func wakeWriters() {
        guard !self.writersWaiting.isEmpty else { return }
        // Wake at half the limits, so a writer is not woken for every frame sent.
        for streamID in self.writersWaiting where self.hasRoom(streamID, fraction: 2) {
            self.writersWaiting.remove(streamID)
            if let entry = self.streams[streamID], let writer = entry.writer {
                entry.writer = nil
                writer.resume()
            }
        }
    }

    // MARK: Lifecycle

    /// Marks the connection idle. At most one timer is outstanding: when it fires it re-arms itself
    /// for the rest of the period if the connection was busy meanwhile, so a busy connection does not
    /// schedule and cancel a timer on every call.
    private func armIdleTimer() {
        guard !self.draining, !self.closed else { return }
        let now = NIODeadline.now()
        self.idleSince = now
        if self.idleTimer == nil { self.scheduleIdleCheck(at: now + .init(self.configuration.idleTimeout)) }
    }

    private func scheduleIdleCheck(at deadline: NIODeadline) {
        self.idleTimer = self.context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.idleTimer = nil
            guard let since = self.idleSince, self.streams.isEmpty, !self.draining else { return }
            let expiry = since + .init(self.configuration.idleTimeout)
            guard NIODeadline.now() >= expiry else {
                self.scheduleIdleCheck(at: expiry)
                return
            }
            self.logger.debug("closing idle connection", metadata: ["peer": "\(self.peer)"])
            self.session.goAway(lastStreamID: self.session.lastProcessedStreamID, .noError)
            self.closeWhenFlushed()
        }
    }

    private func beginGracefulShutdown(gracePeriod: Duration) {
        guard !self.draining, !self.closed else { return }
        self.draining = true
        self.idleTimer?.cancel()
        // Two-step GOAWAY: a notice now, the final last-stream-id once streams in flight have arrived.
        self.session.shutdownNotice()
        self.flush()
        self.context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(50)) { [self] in
            self.session.goAway(lastStreamID: self.session.lastProcessedStreamID, .noError)
            self.flush()
            if self.streams.isEmpty { self.closeWhenFlushed() }
        }
        self.graceTimer = self.context.eventLoop.assumeIsolated().scheduleTask(in: .init(gracePeriod)) { [self] in
            let status = Status(code: .unavailable, message: "Server shutting down")
            for (streamID, entry) in self.streams {
                entry.task?.cancel()
                self.finish(streamID: streamID, status: status, trailers: [:])
            }
            self.flush()
            self.closeWhenFlushed()
        }
    }

    private func closeWhenFlushed() {
        self.flush()
        self.close()
    }

    /// Closes once every byte already written has gone out (bounded by one second, in case the peer
    /// stopped reading).
    private func close() {
        guard !self.closed, let context = self.context else { return }
        self.closed = true
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer()), promise: written)
        let forced = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { context.close(promise: nil) }
        written.futureResult.assumeIsolated().whenComplete { _ in
            forced.cancel()
            context.close(promise: nil)
        }
    }

    private static func describe(_ address: SocketAddress) -> String {
        switch address {
        case .v4: "ipv4:\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        case .v6: "ipv6:[\(address.ipAddress ?? "?")]:\(address.port ?? 0)"
        case .unixDomainSocket: "unix:\(address.pathname ?? "")"
        }
    }
}
