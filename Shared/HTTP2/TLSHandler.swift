internal import NIOCore
internal import SkyportInterop

/// Encrypts and decrypts a channel's bytes with a `TLSConnection` (OpenSSL over memory BIOs).
///
/// Put it first in the pipeline; everything after it sees plaintext. A client starts the handshake
/// when the channel becomes active; a server waits for the ClientHello. When the handshake
/// completes the handler fires `TLSHandshakeCompleted` and only then passes plaintext on. Writes
/// made before that are held (the only bytes it ever buffers) and sent once the handshake completes.
/// A failed handshake fires the `TLSError` and closes the channel, after sending OpenSSL's alert.
/// Closing sends close_notify first.
///
/// Memory stays bounded by one read or write: ciphertext is handed to OpenSSL as it arrives and
/// plaintext is passed on at once. The handshake timeout is left to a later handler, which can
/// watch for `TLSHandshakeCompleted`.
final class TLSHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// Not yet active.
        case idle
        /// Handshake in progress: writes are held.
        case handshaking
        /// Handshake done: bytes flow both ways.
        case active
        /// close_notify sent or connection failed: nothing more goes through.
        case closed
    }

    private let connection: TLSConnection
    private var state = State.idle
    /// Writes made before the handshake completed, with their promises.
    private var heldWrites = CircularBuffer<(data: ByteBuffer, promise: EventLoopPromise<Void>?)>()
    /// Whether a flush was asked for while writes were held.
    private var flushHeld = false

    /// Creates a handler for one channel from an unused connection.
    init(connection: TLSConnection) {
        self.connection = connection
    }

    /// Creates a handler with a new connection from `context`.
    ///
    /// - Parameter serverHostname: client only: overrides the configuration's host name for SNI
    ///   and verification (gRPC's `--server_host_override`).
    convenience init(context: TLSContext, serverHostname: String? = nil) throws {
        self.init(connection: try TLSConnection(context: context, serverHostname: serverHostname))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Added to a channel that is already connected: channelActive will not come.
        if context.channel.isActive { self.startHandshake(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.failHeldWrites(ChannelError.ioOnClosedChannel)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.startHandshake(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let wasHandshaking = self.state == .handshaking
        self.state = .closed
        self.failHeldWrites(ChannelError.ioOnClosedChannel)
        if wasHandshaking {
            context.fireErrorCaught(TLSError(operation: "handshake: the connection closed before it completed"))
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard self.state != .closed else { return }
        var ciphertext = Self.unwrapInboundIn(data)
        do {
            try self.connection.feed(ciphertext: &ciphertext)
        } catch {
            self.fail(context: context, error: error)
            return
        }
        switch self.state {
        case .idle, .handshaking:
            self.state = .handshaking
            self.advanceHandshake(context: context)
        case .active:
            self.readPlaintext(context: context)
        case .closed:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let plaintext = Self.unwrapOutboundIn(data)
        switch self.state {
        case .idle, .handshaking:
            self.heldWrites.append((plaintext, promise))
        case .active:
            self.encryptAndWrite(context: context, plaintext: plaintext, promise: promise)
        case .closed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    func flush(context: ChannelHandlerContext) {
        switch self.state {
        case .idle, .handshaking:
            self.flushHeld = true
        case .active, .closed:
            context.flush()
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if self.state == .active, mode != .input {
            // close_notify goes out before the socket closes. Closing does not wait for the peer's
            // close_notify: HTTP/2 frames delimit themselves, so truncation cannot go unnoticed.
            self.connection.shutdown()
            self.writeCiphertext(context: context)
        }
        if mode == .all {
            self.state = .closed
            self.failHeldWrites(ChannelError.ioOnClosedChannel)
        }
        context.close(mode: mode, promise: promise)
    }

    private func startHandshake(context: ChannelHandlerContext) {
        guard self.state == .idle else { return }
        self.state = .handshaking
        // The client speaks first; a server waits for the ClientHello.
        if self.connection.context.configuration.role == .client { self.advanceHandshake(context: context) }
    }

    private func advanceHandshake(context: ChannelHandlerContext) {
        let handshakeState: TLSConnection.HandshakeState
        do {
            handshakeState = try self.connection.doHandshake()
        } catch {
            // The output may hold an alert telling the peer why.
            self.writeCiphertext(context: context)
            self.fail(context: context, error: error)
            return
        }
        self.writeCiphertext(context: context)
        guard handshakeState == .complete else { return }

        self.state = .active
        context.fireUserInboundEventTriggered(
            TLSHandshakeCompleted(alpn: self.connection.negotiatedALPN, peerIdentity: self.connection.peerIdentity))
        // The event's handlers may have closed the channel.
        guard self.state == .active else { return }
        while self.state == .active, let held = self.heldWrites.popFirst() {
            self.encryptAndWrite(context: context, plaintext: held.data, promise: held.promise)
        }
        if self.flushHeld {
            self.flushHeld = false
            context.flush()
        }
        // Application data may have arrived with the peer's last handshake message.
        if self.state == .active { self.readPlaintext(context: context) }
    }

    private func readPlaintext(context: ChannelHandlerContext) {
        var plaintext = context.channel.allocator.buffer(capacity: 0)
        let result: TLSConnection.ReadResult
        do {
            result = try self.connection.readPlaintext(into: &plaintext)
        } catch {
            self.writeCiphertext(context: context)
            self.fail(context: context, error: error)
            return
        }
        // Records can provoke a reply (TLS 1.3 key update).
        self.writeCiphertext(context: context)
        if plaintext.readableBytes > 0 { context.fireChannelRead(Self.wrapInboundOut(plaintext)) }
        if result == .closed, self.state == .active {
            // The peer's close_notify: answer it and close.
            self.close(context: context, mode: .all, promise: nil)
        }
    }

    private func encryptAndWrite(
        context: ChannelHandlerContext, plaintext: ByteBuffer, promise: EventLoopPromise<Void>?
    ) {
        do {
            try self.connection.writePlaintext(plaintext)
        } catch {
            promise?.fail(error)
            self.fail(context: context, error: error)
            return
        }
        // Record overhead is at most a few dozen bytes per 16 KiB record.
        var ciphertext = context.channel.allocator.buffer(capacity: plaintext.readableBytes + 64)
        self.connection.drainCiphertext(into: &ciphertext)
        context.write(Self.wrapOutboundOut(ciphertext), promise: promise)
    }

    /// Writes and flushes whatever OpenSSL produced on its own (handshake flights, alerts, close_notify).
    private func writeCiphertext(context: ChannelHandlerContext) {
        guard self.connection.hasPendingCiphertext else { return }
        var ciphertext = context.channel.allocator.buffer(capacity: 0)
        self.connection.drainCiphertext(into: &ciphertext)
        context.writeAndFlush(Self.wrapOutboundOut(ciphertext), promise: nil)
    }

    private func fail(context: ChannelHandlerContext, error: any Error) {
        guard self.state != .closed else { return }
        self.state = .closed
        self.failHeldWrites(error)
        context.fireErrorCaught(error)
        context.close(mode: .all, promise: nil)
    }

    private func failHeldWrites(_ error: any Error) {
        self.flushHeld = false
        while let held = self.heldWrites.popFirst() { held.promise?.fail(error) }
    }
}

@available(*, unavailable)
extension TLSHandler: Sendable {}
