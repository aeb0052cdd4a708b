import SkyportRPC
import SkyportTestSupport
import Synchronization
import Testing

enum TestMethods {
    static let echo = MethodDescriptor(service: "test.Svc", method: "Echo")
    static let fail = MethodDescriptor(service: "test.Svc", method: "Fail")
    static let sleep = MethodDescriptor(service: "test.Svc", method: "Sleep")
    static let split = MethodDescriptor(service: "test.Svc", method: "Split")
    static let join = MethodDescriptor(service: "test.Svc", method: "Join")
    static let chat = MethodDescriptor(service: "test.Svc", method: "Chat")
    static let strict = MethodDescriptor(service: "test.Svc", method: "Strict")
}

/// A request type that never decodes, to prove that a decode failure ends the call with INTERNAL.
struct Undecodable: ProtoMessage {
    static let protoMessageName = "test.Undecodable"
    init() {}
    init(serializedBytes: [UInt8]) throws { throw ProtoDecodingError(messageName: Self.protoMessageName) }
    func serializedBytes() -> [UInt8] { [] }
}

/// Records what handlers observed, for assertions.
final class Observations: Sendable {
    let started = Mutex(false)
    let cancelled = Mutex(false)
}

struct TestService: RPCService {
    let observations = Observations()

    var methods: [ServerMethod] {
        let observations = self.observations
        return [
            .unary(TestMethods.echo, Blob.self, Blob.self) { request, context in
                context.initialResponseMetadata.add("echo-initial", context.requestMetadata["x-in"] ?? "none")
                context.trailingResponseMetadata.add("echo-trailing-bin", binary: [1, 2, 3])
                return Blob(request.text)
            },
            .unary(TestMethods.fail, Blob.self, Blob.self) { request, _ in
                throw RPCError(code: .failedPrecondition, message: "no: \(request.text)", metadata: ["why": "test"])
            },
            .unary(TestMethods.sleep, Blob.self, Blob.self) { _, _ in
                observations.started.withLock { $0 = true }
                do {
                    try await Task.sleep(for: .seconds(30))
                } catch {
                    observations.cancelled.withLock { $0 = true }
                    throw error
                }
                return Blob("woke")
            },
            .serverStreaming(TestMethods.split, Blob.self, Blob.self) { request, responses, _ in
                for character in request.text { try await responses.write(Blob(String(character))) }
            },
            .clientStreaming(TestMethods.join, Blob.self, Blob.self) { requests, _ in
                var joined = ""
                for try await request in requests { joined += request.text }
                return Blob(joined)
            },
            .unary(TestMethods.strict, Undecodable.self, Blob.self) { _, _ in Blob("decoded?") },
            .bidirectional(TestMethods.chat, Blob.self, Blob.self) { requests, responses, _ in
                for try await request in requests { try await responses.write(Blob(request.text.uppercased())) }
            },
        ]
    }
}

struct AddHeaderInterceptor: ClientInterceptor {
    func intercept<Result: Sendable>(
        _ call: ClientCallInfo, next: (ClientCallInfo) async throws -> Result
    ) async throws -> Result {
        var call = call
        call.metadata.add("x-in", "from-interceptor")
        return try await next(call)
    }
}

struct RequireHeaderInterceptor: ServerInterceptor {
    func intercept(context: ServerContext, next: () async throws -> Void) async throws {
        guard context.requestMetadata["x-in"] != nil else {
            throw RPCError(code: .permissionDenied, message: "x-in required")
        }
        try await next()
    }
}

@Suite struct InProcessTransportTests {
    let service = TestService()

    func client(interceptors: [any ServerInterceptor] = [], clientInterceptors: [any ClientInterceptor] = [])
        -> RPCClient
    {
        let router = Router(services: [self.service], interceptors: interceptors)
        return RPCClient(transport: InProcessTransport(router: router), interceptors: clientInterceptors)
    }

    @Test func unaryCarriesMessagesAndMetadataBothWays() async throws {
        let response = try await self.client().unary(
            TestMethods.echo, request: Blob("hi"), metadata: ["x-in": "value"], responseType: Blob.self)
        #expect(response.message.text == "hi")
        #expect(response.initialMetadata["echo-initial"] == "value")
        #expect(response.trailingMetadata[binary: "echo-trailing-bin"] == [1, 2, 3])
    }

    @Test func handlerErrorsArriveAsStatusWithMetadata() async throws {
        let error = await #expect(throws: RPCError.self) {
            _ = try await self.client().unary(
                TestMethods.fail, request: Blob("x"), responseType: Blob.self)
        }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message == "no: x")
        #expect(error?.metadata["why"] == "test")
    }

    @Test func unknownMethodsAndServicesAreUnimplemented() async throws {
        for method in [MethodDescriptor(service: "test.Svc", method: "Nope"), .init(service: "x.Y", method: "Z")] {
            let error = await #expect(throws: RPCError.self) {
                _ = try await self.client().unary(method, request: Blob(), responseType: Blob.self)
            }
            #expect(error?.code == .unimplemented)
        }
    }

    @Test func undecodableRequestIsInternal() async throws {
        let error = await #expect(throws: RPCError.self) {
            _ = try await self.client().unary(TestMethods.strict, request: Blob("x"), responseType: Blob.self)
        }
        #expect(error?.code == .internal)
        #expect(error?.message.contains("test.Undecodable") == true)
    }

    @Test func deadlineCancelsTheHandlerAndReportsDeadlineExceeded() async throws {
        let start = ContinuousClock.now
        let client = self.client()
        // Long enough for the handler to start on a busy machine (a call that ends before its handler runs
        // never reaches it, and there is nothing to cancel).
        let call = Task {
            try await client.unary(
                TestMethods.sleep, request: Blob(), options: CallOptions(timeout: .seconds(2)), responseType: Blob.self)
        }
        #expect(await eventually { self.service.observations.started.withLock { $0 } })
        let error = await #expect(throws: RPCError.self) { _ = try await call.value }
        #expect(error?.code == .deadlineExceeded)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(await eventually { self.service.observations.cancelled.withLock { $0 } })
    }

    @Test func allStreamingShapes() async throws {
        let client = self.client()
        let letters = try await client.serverStreaming(
            TestMethods.split, request: Blob("abc"), responseType: Blob.self
        ) { responses in
            var collected: [String] = []
            for try await response in responses { collected.append(response.text) }
            return collected
        }
        #expect(letters == ["a", "b", "c"])

        let joined = try await client.clientStreaming(
            TestMethods.join, requestType: Blob.self, responseType: Blob.self
        ) { writer in
            for part in ["x", "y", "z"] { try await writer.write(Blob(part)) }
        }
        #expect(joined.message.text == "xyz")

        let echoed = try await client.bidirectional(
            TestMethods.chat, requestType: Blob.self, responseType: Blob.self
        ) { call in
            var replies: [String] = []
            var iterator = call.responses.makeAsyncIterator()
            for word in ["ping", "pong"] {
                try await call.write(Blob(word))
                replies.append(try await iterator.next()?.text ?? "<none>")
            }
            call.finishWriting()
            #expect(try await iterator.next() == nil)
            return replies
        }
        #expect(echoed == ["PING", "PONG"])
    }

    @Test func manyMessagesFlowThroughTheBoundedBuffers() async throws {
        let count = try await self.client().bidirectional(
            TestMethods.chat, requestType: Blob.self, responseType: Blob.self
        ) { call in
            async let written: Void = {
                for i in 0..<500 { try await call.write(Blob("m\(i)")) }
                call.finishWriting()
            }()
            var received = 0
            for try await _ in call.responses { received += 1 }
            try await written
            return received
        }
        #expect(count == 500)
    }

    @Test func interceptorsRunOnBothSides() async throws {
        let denied = await #expect(throws: RPCError.self) {
            _ = try await self.client(interceptors: [RequireHeaderInterceptor()]).unary(
                TestMethods.echo, request: Blob("x"), responseType: Blob.self)
        }
        #expect(denied?.code == .permissionDenied)

        let allowed = try await self.client(
            interceptors: [RequireHeaderInterceptor()], clientInterceptors: [AddHeaderInterceptor()]
        ).unary(TestMethods.echo, request: Blob("x"), responseType: Blob.self)
        #expect(allowed.initialMetadata["echo-initial"] == "from-interceptor")
    }

    @Test func cancellingTheCallerCancelsTheHandler() async throws {
        let service = TestService()
        let client = RPCClient(transport: InProcessTransport(router: Router(services: [service])))
        let task = Task {
            try await client.unary(TestMethods.sleep, request: Blob(), responseType: Blob.self)
        }
        #expect(await eventually { service.observations.started.withLock { $0 } })
        task.cancel()
        let result = await task.result
        #expect(throws: RPCError.self) { try result.get() }
        if case .failure(let error as RPCError) = result { #expect(error.code == .cancelled) }
        #expect(await eventually { service.observations.cancelled.withLock { $0 } })
    }
}

@Suite struct MessageBufferTests {
    @Test func senderWaitsAtCapacityAndEndDrainsQueue() async throws {
        let buffer = MessageBuffer(capacity: 2)
        try await buffer.send([1])
        try await buffer.send([2])
        let third = Task { try await buffer.send([3]) }
        try await Task.sleep(for: .milliseconds(20))
        #expect(buffer.count == 2)
        #expect(try await buffer.receive() == [1])
        try await third.value
        #expect(buffer.count == 2)
        buffer.finish()
        #expect(try await buffer.receive() == [2])
        #expect(try await buffer.receive() == [3])
        #expect(try await buffer.receive() == nil)
        await #expect(throws: RPCError.self) { try await buffer.send([4]) }
    }

    @Test func failDropsQueueAndWakesReceiver() async throws {
        let buffer = MessageBuffer()
        buffer.append([1])
        buffer.fail(RPCError(code: .cancelled, message: "gone"))
        await #expect(throws: RPCError.self) { try await buffer.receive() }
        let waiting = MessageBuffer()
        let receiver = Task { try await waiting.receive() }
        try await Task.sleep(for: .milliseconds(20))
        waiting.fail(RPCError(code: .unavailable, message: "x"))
        await #expect(throws: RPCError.self) { try await receiver.value }
    }
}
