import Foundation
import NIOCore
import NIOPosix
@testable import SkyportHTTP2
import SkyportInterop
import SkyportRPC
import SkyportTestSupport
import Testing

/// Real HTTP/2 over TCP on 127.0.0.1: our server and our client, and the nghttp CLI as a foreign peer.
@Suite(.serialized) struct LoopbackTests {
    @Test func unaryWithMetadataBothWays() async throws {
        let loop = try await Loopback.start()
        var metadata: Metadata = ["x-text": "hello"]
        metadata.add("x-data-bin", binary: [0, 1, 2, 255])
        let response = try await loop.client.unary(
            Loop.echo, request: Blob("ping"), metadata: metadata, responseType: Blob.self)
        #expect(response.message.text == "ping")
        #expect(response.initialMetadata["x-text"] == "hello")
        #expect(response.initialMetadata[binary: "x-data-bin"] == [0, 1, 2, 255])
        #expect(response.trailingMetadata[binary: "x-data-bin"] == [0, 1, 2, 255])
        await loop.stop()
    }

    @Test func streamingShapesAndManyConcurrentCalls() async throws {
        let loop = try await Loopback.start()
        let client = loop.client
        let total = try await client.clientStreaming(Loop.count, requestType: Blob.self, responseType: Blob.self) {
            writer in
            for size in [27182, 8, 1828, 45904] { try await writer.write(Blob([UInt8](repeating: 1, count: size))) }
        }
        #expect(total.message.text == "74922")
        let replies = try await client.bidirectional(Loop.upper, requestType: Blob.self, responseType: Blob.self) {
            call in
            var iterator = call.responses.makeAsyncIterator()
            var out: [String] = []
            for word in ["a", "b", "c"] {
                try await call.write(Blob(word))
                out.append(try await iterator.next()?.text ?? "")
            }
            call.finishWriting()
            #expect(try await iterator.next() == nil)
            return out
        }
        #expect(replies == ["A", "B", "C"])
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<300 {
                group.addTask {
                    try await client.unary(Loop.echo, request: Blob("n\(i)"), responseType: Blob.self).message.text
                        == "n\(i)"
                }
            }
            var ok = 0
            for try await matched in group where matched { ok += 1 }
            #expect(ok == 300)
        }
        await loop.stop()
    }

    @Test func deadlineCancelsTheHandler() async throws {
        let loop = try await Loopback.start()
        let client = loop.client
        let start = ContinuousClock.now
        // Long enough for the handler to start on a busy machine (a call reset before its handler runs
        // never reaches it, and there is nothing to cancel).
        let call = Task {
            try await client.unary(
                Loop.sleep, request: Blob(), options: CallOptions(timeout: .seconds(2)), responseType: Blob.self)
        }
        #expect(await eventually { loop.seen.sleepers.load(ordering: .relaxed) == 1 })
        let error = await #expect(throws: RPCError.self) { _ = try await call.value }
        #expect(error?.code == .deadlineExceeded)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(await eventually { loop.seen.cancellations.load(ordering: .relaxed) == 1 })
        await loop.stop()
    }

    @Test func clientCancellationResetsTheStreamAndCancelsTheHandler() async throws {
        let loop = try await Loopback.start()
        let client = loop.client
        let call = Task { try await client.unary(Loop.sleep, request: Blob(), responseType: Blob.self) }
        #expect(await eventually { loop.seen.sleepers.load(ordering: .relaxed) == 1 })
        call.cancel()
        if case .failure(let error as RPCError) = await call.result {
            #expect(error.code == .cancelled)
        } else {
            Issue.record("call did not fail with RPCError")
        }
        #expect(await eventually { loop.seen.cancellations.load(ordering: .relaxed) == 1 })
        await loop.stop()
    }

    @Test func unknownMethodIsUnimplemented() async throws {
        let loop = try await Loopback.start()
        let error = await #expect(throws: RPCError.self) {
            _ = try await loop.client.unary(
                MethodDescriptor(service: "loop.Svc", method: "Missing"), request: Blob(), responseType: Blob.self)
        }
        #expect(error?.code == .unimplemented)
        #expect(error?.message.contains("/loop.Svc/Missing") == true)
        await loop.stop()
    }

    @Test func oversizedRequestIsResourceExhausted() async throws {
        var configuration = HTTP2ServerConfiguration()
        configuration.maxReceiveMessageSize = 1024
        let loop = try await Loopback.start(configuration: configuration)
        let error = await #expect(throws: RPCError.self) {
            _ = try await loop.client.unary(
                Loop.echo, request: Blob([UInt8](repeating: 1, count: 4096)), responseType: Blob.self)
        }
        #expect(error?.code == .resourceExhausted)
        // The connection survives: the next call works.
        let ok = try await loop.client.unary(Loop.echo, request: Blob("still here"), responseType: Blob.self)
        #expect(ok.message.text == "still here")
        await loop.stop()
    }

    @Test func aSlowReaderSuspendsTheServerWriter() async throws {
        let loop = try await Loopback.start()
        let received = try await loop.client.serverStreaming(
            Loop.flood, request: Blob("400"), responseType: Blob.self
        ) { responses in
            var iterator = responses.makeAsyncIterator()
            _ = try await iterator.next()
            try await Task.sleep(for: .milliseconds(500))
            // 400 × 64 KiB = 25 MiB requested; flow control must have stopped the writer far short of it.
            let written = loop.seen.floodWrites.load(ordering: .relaxed)
            #expect(written < 100)
            var count = 1
            while try await iterator.next() != nil { count += 1 }
            return count
        }
        #expect(received == 400)
        await loop.stop()
    }

    @Test func theConnectionCapBoundsWhatAllStreamsQueueTogether() async throws {
        var server = HTTP2ServerConfiguration()
        server.maxQueuedBytesPerStream = 1024 * 1024
        server.maxQueuedBytesPerConnection = 256 * 1024
        var client = HTTP2ClientConfiguration()
        client.session.initialStreamWindowSize = 16 * 1024
        client.maxBufferedBytesPerStream = 16 * 1024
        let loop = try await Loopback.start(configuration: server, clientConfiguration: client)
        let rpc = loop.client
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await rpc.serverStreaming(Loop.flood, request: Blob("40"), responseType: Blob.self) {
                        responses in
                        var iterator = responses.makeAsyncIterator()
                        _ = try await iterator.next()
                        try await Task.sleep(for: .milliseconds(600))
                        var count = 1
                        while try await iterator.next() != nil { count += 1 }
                        return count
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(400))
            // Each stream gets ~3 chunks to the client before its window closes. Without the connection
            // cap, the 1 MiB stream queues would add 16 more per stream (~160 in all); with it, about 4
            // queued in all plus one accepted per stream (~36).
            #expect(loop.seen.floodWrites.load(ordering: .relaxed) < 80)
            var total = 0
            for try await received in group { total += received }
            #expect(total == 8 * 40)
        }
        await loop.stop()
    }

    @Test func callsToAClosedPortFailFastWithUnavailable() async throws {
        let transport = try HTTP2ClientTransport(host: "127.0.0.1", port: 1, logger: Loopback.quietLogger)
        let start = ContinuousClock.now
        let error = await #expect(throws: RPCError.self) {
            _ = try await RPCClient(transport: transport).unary(Loop.echo, request: Blob(), responseType: Blob.self)
        }
        #expect(error?.code == .unavailable)
        #expect(ContinuousClock.now - start < .seconds(2))
        await transport.close()
    }

    @Test func clientReconnectsAfterTheServerGoesAway() async throws {
        let loop = try await Loopback.start()
        _ = try await loop.client.unary(Loop.echo, request: Blob("1"), responseType: Blob.self)
        await loop.server.shutdown()
        let error = await #expect(throws: RPCError.self) {
            _ = try await loop.client.unary(Loop.echo, request: Blob("2"), responseType: Blob.self)
        }
        #expect(error?.code == .unavailable)
        let replacement = try HTTP2Server(
            router: Router(services: [LoopbackService()]), logger: Loopback.quietLogger)
        _ = try await replacement.bind(host: "127.0.0.1", port: loop.port)
        let again = try await loop.client.unary(Loop.echo, request: Blob("3"), responseType: Blob.self)
        #expect(again.message.text == "3")
        await loop.transport.close()
        await replacement.shutdown()
    }

    @Test func gracefulShutdownLetsInFlightCallsFinish() async throws {
        var configuration = HTTP2ServerConfiguration()
        configuration.shutdownGracePeriod = .seconds(5)
        let loop = try await Loopback.start(configuration: configuration)
        let client = loop.client
        let stream = Task {
            try await client.clientStreaming(Loop.count, requestType: Blob.self, responseType: Blob.self) { writer in
                try await writer.write(Blob([1, 2, 3]))
                try await Task.sleep(for: .milliseconds(400))
                try await writer.write(Blob([4]))
            }.message.text
        }
        // In flight: the handler has the first message (a stream the server has not yet seen would be refused).
        #expect(await eventually { loop.seen.countMessages.load(ordering: .relaxed) == 1 })
        let shutdown = Task { await loop.server.shutdown() }
        #expect(try await stream.value == "4")
        await shutdown.value
        await loop.transport.close()
    }

    @Test func shutdownReturnsOnlyAfterCancelledHandlersHaveUnwound() async throws {
        let loop = try await Loopback.start()
        let client = loop.client
        let call = Task { try await client.unary(Loop.linger, request: Blob(), responseType: Blob.self) }
        #expect(await eventually { loop.seen.lingerersStarted.load(ordering: .relaxed) == 1 })
        // The grace period ends long before the handler does; shutdown still waits for it to return.
        await loop.server.shutdown(gracePeriod: .milliseconds(20))
        #expect(loop.seen.lingerersFinished.load(ordering: .relaxed) == 1)
        _ = try? await call.value
        await loop.transport.close()
    }

    @Test func aTransportKeepsOneConnectionPerEventLoopAndClosesThemAll() async throws {
        let loop = try await Loopback.start()
        let client = loop.client
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        // Two calls from each loop of the shared group: each loop's calls share that loop's connection.
        for eventLoop in loops + loops {
            let reply = try await Task(executorPreference: EventLoopTaskExecutor(eventLoop: eventLoop)) {
                try await client.unary(Loop.echo, request: Blob("from a loop"), responseType: Blob.self)
            }.value
            #expect(reply.message.text == "from a loop")
        }
        #expect(loop.server.connectionCount == loops.count)
        // A call from no loop at all (a thread of Swift's own pool here) uses the first loop's connection.
        _ = try await client.unary(Loop.echo, request: Blob("elsewhere"), responseType: Blob.self)
        #expect(loop.server.connectionCount == loops.count)
        await loop.transport.close()
        #expect(await eventually { loop.server.connectionCount == 0 })
        await loop.stop()
    }

    @Test func idleConnectionsAreClosedAndBusyOnesKept() async throws {
        var configuration = HTTP2ServerConfiguration()
        // Generous against scheduling delays on a loaded machine (tests run in parallel).
        configuration.idleTimeout = .seconds(1)
        let loop = try await Loopback.start(configuration: configuration)
        // Busy for longer than the idle timeout, with short gaps: the connection stays.
        for _ in 0..<25 {
            _ = try await loop.client.unary(Loop.echo, request: Blob("x"), responseType: Blob.self)
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(loop.server.connectionCount == 1)
        // Then idle: the server closes it, and the client reconnects for the next call.
        #expect(await eventually { loop.server.connectionCount == 0 })
        let again = try await loop.client.unary(Loop.echo, request: Blob("back"), responseType: Blob.self)
        #expect(again.message.text == "back")
        await loop.stop()
    }

    @Test func closedConnectionsReleaseTheirHandlers() async throws {
        let loop = try await Loopback.start()
        for _ in 0..<20 {
            let transport = try HTTP2ClientTransport(host: "127.0.0.1", port: loop.port, logger: Loopback.quietLogger)
            _ = try await RPCClient(transport: transport).unary(Loop.echo, request: Blob("x"), responseType: Blob.self)
            await transport.close()
        }
        await loop.stop()
        #expect(await eventually { loop.server.connectionHandlers.running == 0 })
    }

    /// Reads and discards everything: a peer that accepted the connection and then went silent.
    final class SilentPeer: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }

    @Test func keepaliveDetectsASilentPeer() async throws {
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.pipeline.addHandler(SilentPeer()) }
            .bind(host: "127.0.0.1", port: 0).get()
        var configuration = HTTP2ClientConfiguration()
        configuration.keepaliveInterval = .milliseconds(100)
        let transport = try HTTP2ClientTransport(
            host: "127.0.0.1", port: silent.localAddress!.port!, configuration: configuration,
            logger: Loopback.quietLogger)
        let start = ContinuousClock.now
        let error = await #expect(throws: RPCError.self) {
            // The deadline only bounds the test: keepalive must end the call first, with UNAVAILABLE.
            _ = try await RPCClient(transport: transport).unary(
                Loop.echo, request: Blob(), options: CallOptions(timeout: .seconds(3)), responseType: Blob.self)
        }
        #expect(error?.code == .unavailable)
        #expect(ContinuousClock.now - start < .seconds(2))
        await transport.close()
        try await silent.close()
    }

    /// The client enforces its own deadline (a timer on the connection's event loop), also while it
    /// waits for the connection: a silent peer never answers and never sends a status.
    @Test func theClientEndsACallAtItsDeadlineWhenThePeerIsSilent() async throws {
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.pipeline.addHandler(SilentPeer()) }
            .bind(host: "127.0.0.1", port: 0).get()
        let ca = try CertificateAuthority.create(commonName: "Silent Test CA")
        // Cleartext: the stream opens and nothing comes back. TLS: the handshake never completes (the
        // connection's own set-up timeout is 5 s; the call's deadline comes first).
        let configurations = [
            HTTP2ClientConfiguration(),
            HTTP2ClientConfiguration(
                tls: ClientTLS(
                    configuration: .client(
                        serverHostname: "localhost", trustRoots: .string(ca.certificatePEM), certificateChain: nil,
                        privateKey: nil))),
        ]
        for configuration in configurations {
            let transport = try HTTP2ClientTransport(
                host: "127.0.0.1", port: silent.localAddress!.port!, configuration: configuration,
                logger: Loopback.quietLogger)
            let error = await #expect(throws: RPCError.self) {
                _ = try await RPCClient(transport: transport).unary(
                    Loop.echo, request: Blob(), options: CallOptions(timeout: .milliseconds(300)),
                    responseType: Blob.self)
            }
            #expect(error?.code == .deadlineExceeded, "\(String(describing: error))")
            await transport.close()
        }
        try await silent.close()
    }

    @Test func mutualTLSHandsTheVerifiedIdentityToHandlers() async throws {
        let ca = try CertificateAuthority.create(commonName: "Loop Test CA")
        let server = try ca.issue(commonName: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        let client = try ca.issue(commonName: "billing", dnsNames: [], ipAddresses: [])
        let serverTLS = ServerTLS(
            configuration: .server(
                certificateChain: .string(server.certificatePEM), privateKey: .string(server.privateKeyPEM),
                trustRoots: .string(ca.certificatePEM), requireClientCertificate: true))
        let clientTLS = ClientTLS(
            configuration: .client(
                serverHostname: "localhost", trustRoots: .string(ca.certificatePEM),
                certificateChain: .string(client.certificatePEM), privateKey: .string(client.privateKeyPEM)))
        let loop = try await Loopback.start(
            tls: serverTLS, clientConfiguration: HTTP2ClientConfiguration(tls: clientTLS))
        let identity = try await loop.client.unary(Loop.whoami, request: Blob(), responseType: Blob.self)
        #expect(identity.message.text == "billing")

        // No client certificate: refused.
        let anonymous = try HTTP2ClientTransport(
            host: "127.0.0.1", port: loop.port,
            configuration: HTTP2ClientConfiguration(
                tls: ClientTLS(
                    configuration: .client(serverHostname: "localhost", trustRoots: .string(ca.certificatePEM)))),
            logger: Loopback.quietLogger)
        let refused = await #expect(throws: RPCError.self) {
            _ = try await RPCClient(transport: anonymous).unary(Loop.whoami, request: Blob(), responseType: Blob.self)
        }
        #expect(refused?.code == .unavailable)
        await anonymous.close()
        await loop.stop()
    }

    @Test func nghttpSeesTrailersAnd415ForNonGRPC() async throws {
        let loop = try await Loopback.start()
        let url = "http://127.0.0.1:\(loop.port)/loop.Svc/Echo"
        let body = FileManager.default.temporaryDirectory.appendingPathComponent("skyport-loop-body")
        try Data([0, 0, 0, 0, 2, 0x68, 0x69]).write(to: body)
        let grpc = try runNghttp([
            "-v", "-d", body.path, "-H", "content-type: application/grpc", "-H", "te: trailers", url,
        ])
        #expect(grpc.contains(":status: 200"))
        #expect(grpc.contains("grpc-status: 0"))
        let json = try runNghttp(["-v", "-d", body.path, "-H", "content-type: application/json", url])
        #expect(json.contains(":status: 415"))
        #expect(json.contains("grpc-status: 13"))
        await loop.stop()
    }

    private func runNghttp(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/nghttp")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
