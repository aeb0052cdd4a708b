import NIOCore
import NIOPosix
@testable import SkyportHTTP2
import SkyportInterop
import SkyportRPC
import Testing

/// Echoes plaintext and reports the handshake event it saw.
private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handshake: EventLoopPromise<TLSHandshakeCompleted>

    init(handshake: EventLoopPromise<TLSHandshakeCompleted>) {
        self.handshake = handshake
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted { self.handshake.succeed(event) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.handshake.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.handshake.fail(ChannelError.eof)
    }
}

/// Collects plaintext until `expected` bytes arrived; records the handshake event and any error.
private final class CollectHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let expected: Int
    private let handshake: EventLoopPromise<TLSHandshakeCompleted>
    private let received: EventLoopPromise<ByteBuffer>
    private var buffer = ByteBuffer()
    private var handshakeSeen = false

    init(expected: Int, handshake: EventLoopPromise<TLSHandshakeCompleted>, received: EventLoopPromise<ByteBuffer>) {
        self.expected = expected
        self.handshake = handshake
        self.received = received
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted {
            self.handshakeSeen = true
            self.handshake.succeed(event)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Plaintext before the completion event would be a bug in TLSHandler.
        guard self.handshakeSeen else {
            self.received.fail(TLSError(operation: "plaintext before TLSHandshakeCompleted"))
            return
        }
        var chunk = Self.unwrapInboundIn(data)
        self.buffer.writeBuffer(&chunk)
        if self.buffer.readableBytes >= self.expected { self.received.succeed(self.buffer) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.handshake.fail(error)
        self.received.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.handshake.fail(ChannelError.eof)
        self.received.fail(ChannelError.eof)
    }
}

private struct TimedOut: Error {}

@Suite("TLSHandler over loopback")
struct TLSHandlerTests {
    let authority: CertificateAuthority
    let serverContext: TLSContext

    init() throws {
        self.authority = try CertificateAuthority.create(commonName: "Loopback CA", validityDays: 1)
        let server = try self.authority.issue(
            commonName: "loopback-server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityDays: 1)
        self.serverContext = try TLSContext(
            configuration: .server(
                certificateChain: .string(server.certificatePEM), privateKey: .string(server.privateKeyPEM),
                trustRoots: .string(self.authority.certificatePEM), requireClientCertificate: true))
    }

    /// Starts an echo server; returns its channel and a future for the server side's handshake event.
    private func startServer(
        group: any EventLoopGroup
    ) async throws -> (any Channel, EventLoopFuture<TLSHandshakeCompleted>) {
        let serverHandshake = group.next().makePromise(of: TLSHandshakeCompleted.self)
        group.next().scheduleTask(in: .seconds(10)) { serverHandshake.fail(TimedOut()) }
        let serverContext = self.serverContext
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSHandler(context: serverContext))
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(handshake: serverHandshake))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return (channel, serverHandshake.futureResult)
    }

    @Test("bytes round-trip through TLS on both ends, and both ends learn the peer's identity")
    func echoRoundTrip() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let (server, serverHandshake) = try await self.startServer(group: group)
        defer { server.close(promise: nil) }

        let client = try self.authority.issue(
            commonName: "loopback-client", uris: ["spiffe://skyport.test/loopback-client"], validityDays: 1)
        let clientContext = try TLSContext(
            configuration: .client(
                serverHostname: "localhost", trustRoots: .string(self.authority.certificatePEM),
                certificateChain: .string(client.certificatePEM), privateKey: .string(client.privateKeyPEM)))
        // Larger than one TLS record and one socket read, so reassembly is exercised.
        let payload = ByteBuffer(bytes: (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let clientHandshake = group.next().makePromise(of: TLSHandshakeCompleted.self)
        let received = group.next().makePromise(of: ByteBuffer.self)
        group.next().scheduleTask(in: .seconds(10)) {
            clientHandshake.fail(TimedOut())
            received.fail(TimedOut())
        }
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSHandler(context: clientContext))
                    try channel.pipeline.syncOperations.addHandler(
                        CollectHandler(expected: payload.readableBytes, handshake: clientHandshake, received: received))
                }
            }
            .connect(to: server.localAddress!).get()

        // Written at once, before the handshake can have completed: TLSHandler holds it until then.
        try await channel.writeAndFlush(payload).get()
        let echoed = try await received.futureResult.get()
        #expect(echoed == payload)

        let clientEvent = try await clientHandshake.futureResult.get()
        #expect(clientEvent.alpn == "h2")
        #expect(clientEvent.peerIdentity?.commonName == "loopback-server")
        #expect(clientEvent.peerIdentity?.dnsNames == ["localhost"])
        let serverEvent = try await serverHandshake.get()
        #expect(serverEvent.alpn == "h2")
        #expect(serverEvent.peerIdentity?.commonName == "loopback-client")
        #expect(serverEvent.peerIdentity?.uris == ["spiffe://skyport.test/loopback-client"])

        try await channel.close().get()
    }

    @Test("a failed handshake fires a TLSError and closes both connections")
    func handshakeFailureCloses() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let (server, serverHandshake) = try await self.startServer(group: group)
        defer { server.close(promise: nil) }

        // Trusts the server's CA but presents no certificate, which the server requires.
        let clientContext = try TLSContext(
            configuration: .client(serverHostname: "127.0.0.1", trustRoots: .string(self.authority.certificatePEM)))
        let clientHandshake = group.next().makePromise(of: TLSHandshakeCompleted.self)
        let received = group.next().makePromise(of: ByteBuffer.self)
        group.next().scheduleTask(in: .seconds(10)) { received.fail(TimedOut()) }
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSHandler(context: clientContext))
                    try channel.pipeline.syncOperations.addHandler(
                        CollectHandler(expected: 1, handshake: clientHandshake, received: received))
                }
            }
            .connect(to: server.localAddress!).get()
        channel.writeAndFlush(ByteBuffer(string: "never delivered"), promise: nil)

        // TLS 1.3: the client's side may finish before the server refuses it, so the client learns
        // of the refusal from the server's alert on its next read.
        await #expect(throws: TLSError.self) { try await received.futureResult.get() }
        await #expect(throws: TLSError.self) { try await serverHandshake.get() }
        // The handler closed the channel itself.
        try await channel.closeFuture.get()
        #expect(!channel.isActive)
    }
}
