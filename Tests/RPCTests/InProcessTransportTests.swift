import SkyportRPC
import Synchronization
import Testing

/// A message whose encoding is its UTF-8 text; the byte 0xFF makes decoding fail.
struct TextMessage: ProtoMessage {
    static let protoMessageName = "test.Text"
    var text = ""

    init() {}
    init(_ text: String) { self.text = text }

    init(serializedBytes: [UInt8]) throws {
        if serializedBytes.contains(0xFF) { throw ProtoDecodingError(messageName: Self.protoMessageName) }
        self.text = String(decoding: serializedBytes, as: UTF8.self)
    }

    func serializedBytes() -> [UInt8] { Array(self.text.utf8) }
}

enum TestMethods {
    static let echo = MethodDescriptor(service: "test.Svc", method: "Echo")
    static let fail = MethodDescriptor(service: "test.Svc", method: "Fail")
    static let sleep = MethodDescriptor(service: "test.Svc", method: "Sleep")
    static let split = MethodDescriptor(service: "test.Svc", method: "Split")
    static let join = MethodDescriptor(service: "test.Svc", method: "Join")
    static let chat = MethodDescriptor(service: "test.Svc", method: "Chat")
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
            .unary(TestMethods.echo, TextMessage.self, TextMessage.self) { request, context in
                context.initialResponseMetadata.add("echo-initial", context.requestMetadata["x-in"] ?? "none")
                context.trailingResponseMetadata.add("echo-trailing-bin", binary: [1, 2, 3])
                return TextMessage(request.text)
            },
            .unary(TestMethods.fail, TextMessage.self, TextMessage.self) { request, _ in
                throw RPCError(code: .failedPrecondition, message: "no: \(request.text)", metadata: ["why": "test"])
            },
            .unary(TestMethods.sleep, TextMessage.self, TextMessage.self) { _, _ in
                observations.started.withLock { $0 = true }
                do {
                    try await Task.sleep(for: .seconds(30))
                } catch {
                    observations.cancelled.withLock { $0 = true }
                    throw error
                }
                return TextMessage("woke")
            },
            .serverStreaming(TestMethods.split, TextMessage.self, TextMessage.self) { request, responses, _ in
                for character in request.text { try await responses.write(TextMessage(String(character))) }
            },
            .clientStreaming(TestMethods.join, TextMessage.self, TextMessage.self) { requests, _ in
                var joined = ""
                for try await request in requests { joined += request.text }
                return TextMessage(joined)
            },
            .bidirectional(TestMethods.chat, TextMessage.self, TextMessage.self) { requests, responses, _ in
                for try await request in requests { try await responses.write(TextMessage(request.text.uppercased())) }
            },
        ]
    }
}

/// Polls `condition` until it holds or `timeout` passes (for effects that happen on other tasks).
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
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
            TestMethods.echo, request: TextMessage("hi"), metadata: ["x-in": "value"], responseType: TextMessage.self)
        #expect(response.message.text == "hi")
        #expect(response.initialMetadata["echo-initial"] == "value")
        #expect(response.trailingMetadata[binary: "echo-trailing-bin"] == [1, 2, 3])
    }

    @Test func handlerErrorsArriveAsStatusWithMetadata() async throws {
        let error = await #expect(throws: RPCError.self) {
            _ = try await self.client().unary(
                TestMethods.fail, request: TextMessage("x"), responseType: TextMessage.self)
        }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message == "no: x")
        #expect(error?.metadata["why"] == "test")
    }

    @Test func unknownMethodsAndServicesAreUnimplemented() async throws {
        for method in [MethodDescriptor(service: "test.Svc", method: "Nope"), .init(service: "x.Y", method: "Z")] {
            let error = await #expect(throws: RPCError.self) {
                _ = try await self.client().unary(method, request: TextMessage(), responseType: TextMessage.self)
            }
            #expect(error?.code == .unimplemented)
        }
    }

    @Test func undecodableRequestIsInternal() async throws {
        struct Undecodable: ProtoMessage {
            static let protoMessageName = "test.Undecodable"
            init() {}
            init(serializedBytes: [UInt8]) throws {}
            func serializedBytes() -> [UInt8] { [0xFF] }
        }
        let error = await #expect(throws: RPCError.self) {
            _ = try await self.client().unary(TestMethods.echo, request: Undecodable(), responseType: TextMessage.self)
        }
        #expect(error?.code == .internal)
    }

    @Test func deadlineCancelsTheHandlerAndReportsDeadlineExceeded() async throws {
        let start = ContinuousClock.now
        let error = await #expect(throws: RPCError.self) {
            _ = try await self.client().unary(
                TestMethods.sleep, request: TextMessage(), options: CallOptions(timeout: .milliseconds(100)),
                responseType: TextMessage.self)
        }
        #expect(error?.code == .deadlineExceeded)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(await eventually { self.service.observations.cancelled.withLock { $0 } })
    }

    @Test func allStreamingShapes() async throws {
        let client = self.client()
        let letters = try await client.serverStreaming(
            TestMethods.split, request: TextMessage("abc"), responseType: TextMessage.self
        ) { responses in
            var collected: [String] = []
            for try await response in responses { collected.append(response.text) }
            return collected
        }
        #expect(letters == ["a", "b", "c"])

        let joined = try await client.clientStreaming(
            TestMethods.join, requestType: TextMessage.self, responseType: TextMessage.self
        ) { writer in
            for part in ["x", "y", "z"] { try await writer.write(TextMessage(part)) }
        }
        #expect(joined.message.text == "xyz")

        let echoed = try await client.bidirectional(
            TestMethods.chat, requestType: TextMessage.self, responseType: TextMessage.self
        ) { call in
            var replies: [String] = []
            var iterator = call.responses.makeAsyncIterator()
            for word in ["ping", "pong"] {
                try await call.write(TextMessage(word))
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
            TestMethods.chat, requestType: TextMessage.self, responseType: TextMessage.self
        ) { call in
            async let written: Void = {
                for i in 0..<500 { try await call.write(TextMessage("m\(i)")) }
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
                TestMethods.echo, request: TextMessage("x"), responseType: TextMessage.self)
        }
        #expect(denied?.code == .permissionDenied)

        let allowed = try await self.client(
            interceptors: [RequireHeaderInterceptor()], clientInterceptors: [AddHeaderInterceptor()]
        ).unary(TestMethods.echo, request: TextMessage("x"), responseType: TextMessage.self)
        #expect(allowed.initialMetadata["echo-initial"] == "from-interceptor")
    }

    @Test func cancellingTheCallerCancelsTheHandler() async throws {
        let service = TestService()
        let client = RPCClient(transport: InProcessTransport(router: Router(services: [service])))
        let task = Task {
            try await client.unary(TestMethods.sleep, request: TextMessage(), responseType: TextMessage.self)
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
