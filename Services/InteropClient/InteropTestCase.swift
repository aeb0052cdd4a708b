import SkyportProto
import SkyportRPC

/// The interop test cases (doc/interop-test-descriptions.md in grpc/grpc) this client implements, with the
/// assertions the specification lists.
enum InteropTestCase: String, CaseIterable, Sendable {
    case emptyUnary = "empty_unary"
    case largeUnary = "large_unary"
    case clientStreaming = "client_streaming"
    case serverStreaming = "server_streaming"
    case pingPong = "ping_pong"
    case emptyStream = "empty_stream"
    case customMetadata = "custom_metadata"
    case statusCodeAndMessage = "status_code_and_message"
    case specialStatusMessage = "special_status_message"
    case unimplementedMethod = "unimplemented_method"
    case unimplementedService = "unimplemented_service"
    case cancelAfterBegin = "cancel_after_begin"
    case cancelAfterFirstResponse = "cancel_after_first_response"
    case timeoutOnSleepingServer = "timeout_on_sleeping_server"

    static let requestSizes: [Int32] = [27182, 8, 1828, 45904]
    static let responseSizes: [Int32] = [31415, 9, 2653, 58979]
    static let echoInitialKey = "x-grpc-test-echo-initial"
    static let echoInitialValue = "test_initial_metadata_value"
    static let echoTrailingKey = "x-grpc-test-echo-trailing-bin"
    static let echoTrailingValue: [UInt8] = [0xAB, 0xAB, 0xAB]
    static let specialMessage = "\t\ntest with whitespace\r\nand Unicode BMP \u{263A} and non-BMP \u{1F608}\t\n"
    /// Every call but the deadline test gets this timeout, so a stuck server fails a case instead of hanging.
    static let callOptions = CallOptions(timeout: .seconds(30))

    /// Runs the case; throws `InteropTestFailure` (or the call's error) when an assertion does not hold.
    func run(_ client: RPCClient) async throws {
        let testService = Grpc_Testing_TestServiceClient(client)
        switch self {
        case .emptyUnary: try await Self.emptyUnary(testService)
        case .largeUnary: try await Self.largeUnary(testService)
        case .clientStreaming: try await Self.clientStreaming(testService)
        case .serverStreaming: try await Self.serverStreaming(testService)
        case .pingPong: try await Self.pingPong(testService)
        case .emptyStream: try await Self.emptyStream(testService)
        case .customMetadata: try await Self.customMetadata(testService)
        case .statusCodeAndMessage: try await Self.statusRoundTrip(testService, "test status message", duplex: true)
        case .specialStatusMessage: try await Self.statusRoundTrip(testService, Self.specialMessage, duplex: false)
        case .unimplementedMethod: try await Self.unimplementedMethod(testService)
        case .unimplementedService: try await Self.unimplementedService(client)
        case .cancelAfterBegin: try await Self.cancelAfterBegin(testService)
        case .cancelAfterFirstResponse: try await Self.cancelAfterFirstResponse(testService)
        case .timeoutOnSleepingServer: try await Self.timeoutOnSleepingServer(testService)
        }
    }

    /// A one-line reason for a failed case.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let failure as InteropTestFailure: failure.reason
        case let error as RPCError: "unexpected status \(error)"
        default: "\(type(of: error)): \(error)"
        }
    }
}

/// An assertion of a test case that did not hold.
struct InteropTestFailure: Error, CustomStringConvertible {
    /// What was expected and what happened.
    var reason: String

    init(_ reason: String) {
        self.reason = reason
    }

    var description: String { self.reason }
}

// MARK: - The cases

extension InteropTestCase {
    static func emptyUnary(_ service: Grpc_Testing_TestServiceClient) async throws {
        let response = try await service.emptyCall(Grpc_Testing_Empty(), options: Self.callOptions)
        try expect(response == Grpc_Testing_Empty(), "response is not an empty message")
    }

    static func largeUnary(_ service: Grpc_Testing_TestServiceClient) async throws {
        let response = try await service.unaryCall(Self.largeRequest(), options: Self.callOptions)
        try checkPayload(response.payload, size: 314_159, "response")
    }

    static func clientStreaming(_ service: Grpc_Testing_TestServiceClient) async throws {
        let response = try await service.streamingInputCall(options: Self.callOptions) { writer in
            for size in Self.requestSizes {
                var request = Grpc_Testing_StreamingInputCallRequest()
                request.payload = zeros(size)
                try await writer.write(request)
            }
        }
        try expect(
            response.aggregatedPayloadSize == 74922,
            "aggregated_payload_size \(response.aggregatedPayloadSize), expected 74922")
    }

    static func serverStreaming(_ service: Grpc_Testing_TestServiceClient) async throws {
        var request = Grpc_Testing_StreamingOutputCallRequest()
        request.responseParameters = Self.responseSizes.map(responseParameters(size:))
        let responses = try await service.streamingOutputCall(request, options: Self.callOptions) { responses in
            var received: [Grpc_Testing_StreamingOutputCallResponse] = []
            for try await response in responses { received.append(response) }
            return received
        }
        try expect(responses.count == 4, "\(responses.count) responses, expected 4")
        for (index, (response, size)) in zip(responses, Self.responseSizes).enumerated() {
            try checkPayload(response.payload, size: size, "response \(index)")
        }
    }

    static func pingPong(_ service: Grpc_Testing_TestServiceClient) async throws {
        try await service.fullDuplexCall(options: Self.callOptions) { call in
            var responses = call.responses.makeAsyncIterator()
            for (index, (requestSize, responseSize)) in zip(Self.requestSizes, Self.responseSizes).enumerated() {
                try await call.write(streamingRequest(responseSize: responseSize, payloadSize: requestSize))
                guard let response = try await responses.next() else {
                    throw InteropTestFailure("stream ended before response \(index)")
                }
                try checkPayload(response.payload, size: responseSize, "response \(index)")
            }
            call.finishWriting()
            let extra = try await responses.next()
            try expect(extra == nil, "a response after the fourth")
        }
    }

    static func emptyStream(_ service: Grpc_Testing_TestServiceClient) async throws {
        let count = try await service.fullDuplexCall(options: Self.callOptions) { call in
            call.finishWriting()
            var count = 0
            for try await _ in call.responses { count += 1 }
            return count
        }
        try expect(count == 0, "\(count) responses, expected none")
    }

    static func customMetadata(_ service: Grpc_Testing_TestServiceClient) async throws {
        var metadata: Metadata = [:]
        metadata.add(Self.echoInitialKey, Self.echoInitialValue)
        metadata.add(Self.echoTrailingKey, binary: Self.echoTrailingValue)

        let unary = try await service.client.unary(
            Grpc_Testing_TestServiceMethods.unaryCall, request: Self.largeRequest(), metadata: metadata,
            options: Self.callOptions, responseType: Grpc_Testing_SimpleResponse.self)
        try checkPayload(unary.message.payload, size: 314_159, "UnaryCall response")
        try checkEchoedMetadata(initial: unary.initialMetadata, trailing: unary.trailingMetadata, "UnaryCall")

        let (initial, sizes, trailing) = try await service.fullDuplexCall(
            metadata: metadata, options: Self.callOptions
        ) { call in
            try await call.write(streamingRequest(responseSize: 314_159, payloadSize: 271_828))
            call.finishWriting()
            let initial = try await call.responses.initialMetadata()
            var sizes: [Int] = []
            for try await response in call.responses {
                try checkPayload(response.payload, size: 314_159, "FullDuplexCall response")
                sizes.append(response.payload?.body.count ?? 0)
            }
            return (initial, sizes, await call.responses.trailingMetadata())
        }
        try expect(sizes.count == 1, "FullDuplexCall: \(sizes.count) responses, expected 1")
        try checkEchoedMetadata(initial: initial, trailing: trailing, "FullDuplexCall")
    }

    static func statusRoundTrip(_ service: Grpc_Testing_TestServiceClient, _ message: String, duplex: Bool) async throws
    {
        var status = Grpc_Testing_EchoStatus()
        status.code = 2
        status.message = message

        var unary = Grpc_Testing_SimpleRequest()
        unary.responseStatus = status
        try await expectStatus(.unknown, message: message, "UnaryCall") {
            _ = try await service.unaryCall(unary, options: Self.callOptions)
        }
        guard duplex else { return }

        var streaming = Grpc_Testing_StreamingOutputCallRequest()
        streaming.responseStatus = status
        try await expectStatus(.unknown, message: message, "FullDuplexCall") {
            try await service.fullDuplexCall(options: Self.callOptions) { call in
                try await call.write(streaming)
                call.finishWriting()
                for try await _ in call.responses {}
            }
        }
    }

    static func unimplementedMethod(_ service: Grpc_Testing_TestServiceClient) async throws {
        try await expectStatus(.unimplemented, "TestService/UnimplementedCall") {
            _ = try await service.unimplementedCall(Grpc_Testing_Empty(), options: Self.callOptions)
        }
    }

    static func unimplementedService(_ client: RPCClient) async throws {
        let service = Grpc_Testing_UnimplementedServiceClient(client)
        try await expectStatus(.unimplemented, "UnimplementedService/UnimplementedCall") {
            _ = try await service.unimplementedCall(Grpc_Testing_Empty(), options: Self.callOptions)
        }
    }

    /// Starts StreamingInputCall (headers sent, no message), then cancels the calling task.
    static func cancelAfterBegin(_ service: Grpc_Testing_TestServiceClient) async throws {
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        let call = Task {
            _ = try await service.streamingInputCall(options: Self.callOptions) { _ in
                startedContinuation.yield()
                try await Task.sleep(for: .seconds(60))
            }
        }
        for await _ in started { break }
        call.cancel()
        try expectCancelled(await call.result, "StreamingInputCall")
    }

    /// Starts FullDuplexCall, reads the first response, then cancels the calling task.
    static func cancelAfterFirstResponse(_ service: Grpc_Testing_TestServiceClient) async throws {
        let (firstResponse, firstContinuation) = AsyncStream.makeStream(of: Int.self)
        let call = Task {
            try await service.fullDuplexCall(options: Self.callOptions) { call in
                try await call.write(streamingRequest(responseSize: 31415, payloadSize: 27182))
                var responses = call.responses.makeAsyncIterator()
                let first = try await responses.next()
                firstContinuation.yield(first?.payload?.body.count ?? -1)
                try await Task.sleep(for: .seconds(60))
            }
        }
        var firstSize: Int?
        for await size in firstResponse {
            firstSize = size
            break
        }
        call.cancel()
        try expectCancelled(await call.result, "FullDuplexCall")
        try expect(firstSize == 31415, "first response has \(firstSize.map(String.init) ?? "no") bytes, expected 31415")
    }

    static func timeoutOnSleepingServer(_ service: Grpc_Testing_TestServiceClient) async throws {
        try await expectStatus(.deadlineExceeded, "FullDuplexCall with a 1 ms deadline") {
            try await service.fullDuplexCall(options: CallOptions(timeout: .milliseconds(1))) { call in
                var request = Grpc_Testing_StreamingOutputCallRequest()
                request.payload = zeros(27182)
                try await call.write(request)
                for try await _ in call.responses {}
            }
        }
    }
}

// MARK: - Helpers

extension InteropTestCase {
    static func largeRequest() -> Grpc_Testing_SimpleRequest {
        var request = Grpc_Testing_SimpleRequest()
        request.responseSize = 314_159
        request.payload = zeros(271_828)
        return request
    }

    static func zeros(_ size: Int32) -> Grpc_Testing_Payload {
        var payload = Grpc_Testing_Payload()
        payload.body = [UInt8](repeating: 0, count: Int(size))
        return payload
    }

    static func responseParameters(size: Int32) -> Grpc_Testing_ResponseParameters {
        var parameters = Grpc_Testing_ResponseParameters()
        parameters.size = size
        return parameters
    }

    static func streamingRequest(responseSize: Int32, payloadSize: Int32) -> Grpc_Testing_StreamingOutputCallRequest {
        var request = Grpc_Testing_StreamingOutputCallRequest()
        request.responseParameters = [responseParameters(size: responseSize)]
        request.payload = zeros(payloadSize)
        return request
    }

    static func expect(_ condition: Bool, _ reason: @autoclosure () -> String) throws {
        if !condition { throw InteropTestFailure(reason()) }
    }

    static func checkPayload(_ payload: Grpc_Testing_Payload?, size: Int32, _ what: String) throws {
        guard let payload else { throw InteropTestFailure("\(what): no payload") }
        try expect(payload.body.count == Int(size), "\(what): payload is \(payload.body.count) bytes, expected \(size)")
        try expect(payload.body.allSatisfy { $0 == 0 }, "\(what): payload is not all zeros")
    }

    static func checkEchoedMetadata(initial: Metadata, trailing: Metadata, _ what: String) throws {
        let initialValues = initial[values: Self.echoInitialKey]
        try expect(
            initialValues == [.string(Self.echoInitialValue)],
            "\(what): initial metadata \(Self.echoInitialKey) is \(initialValues)")
        let trailingValues = trailing[values: Self.echoTrailingKey].map(\.bytes)
        try expect(
            trailingValues == [Self.echoTrailingValue],
            "\(what): trailing metadata \(Self.echoTrailingKey) is \(trailingValues)")
    }

    /// Runs `body` and checks that it fails with `code` (and `message`, when given).
    static func expectStatus(
        _ code: Status.Code, message: String? = nil, _ what: String, _ body: () async throws -> Void
    ) async throws {
        do {
            try await body()
        } catch let error as RPCError {
            try expect(error.code == code, "\(what): status \(error), expected \(code)")
            if let message {
                try expect(
                    error.message == message,
                    "\(what): status message \(error.message.debugDescription), "
                        + "expected \(message.debugDescription)")
            }
            return
        }
        throw InteropTestFailure("\(what): succeeded, expected \(code)")
    }

    /// Checks that a cancelled call ended CANCELLED: `RPCError(.cancelled)`, or `CancellationError` when the
    /// cancellation reached the caller's own code first (the task was cancelled, not the server's doing).
    static func expectCancelled(_ result: Result<some Sendable, any Error>, _ what: String) throws {
        switch result {
        case .success:
            throw InteropTestFailure("\(what): completed normally, expected CANCELLED")
        case .failure(let error as RPCError):
            try expect(error.code == .cancelled, "\(what): status \(error), expected CANCELLED")
        case .failure(is CancellationError):
            return
        case .failure(let error):
            throw InteropTestFailure("\(what): failed with \(type(of: error)): \(error), expected CANCELLED")
        }
    }
}
