import SkyportProto
import SkyportRPC
import SkyportReflection
import Testing

/// Calls with messages built from descriptors at run time (`RawMessage`) through the ordinary
/// `RPCClient`, against a generated service over the in-process transport: what `skyport call` does.
@Suite struct DynamicCallTests {
    /// Answers every shape from the request's `colors`, and fails with NOT_FOUND for level HIGH.
    struct ShapeService: Skyport_Testing_V1_ShapeServiceProvider {
        func unary(_ request: Skyport_Testing_V1_Wrapper, context: ServerContext) async throws
            -> Skyport_Testing_V1_Wrapper
        {
            guard request.level != .high else { throw RPCError(code: .notFound, message: "no such level") }
            var reply = request
            reply.colors.append(.green)
            return reply
        }

        func serverStream(
            _ request: Skyport_Testing_V1_Wrapper, responses: ResponseWriter<Skyport_Testing_V1_Wrapper>,
            context: ServerContext
        ) async throws {
            for color in request.colors {
                var reply = Skyport_Testing_V1_Wrapper()
                reply.colors = [color]
                try await responses.write(reply)
            }
        }

        func clientStream(_ requests: RequestStream<Skyport_Testing_V1_Wrapper>, context: ServerContext) async throws
            -> Skyport_Testing_V1_Wrapper
        {
            var reply = Skyport_Testing_V1_Wrapper()
            for try await request in requests { reply.colors += request.colors }
            return reply
        }

        func bidi(
            _ requests: RequestStream<Skyport_Testing_V1_Wrapper>,
            responses: ResponseWriter<Skyport_Testing_V1_Wrapper>, context: ServerContext
        ) async throws {
            for try await request in requests { try await responses.write(request) }
        }
    }

    let pool: DescriptorPool
    let client = RPCClient(transport: InProcessTransport(router: Router(services: [ShapeService()])))

    init() throws {
        self.pool = try TestDescriptors.registryPool()
    }

    @Test func unaryCallWithJSONInAndOut() async throws {
        let method = try self.pool.method(named: "skyport.testing.v1.ShapeService/Unary")
        let request = try self.pool.encode(
            JSONValue.parse(#"{"everything": {"stringValue": "hi"}, "colors": ["COLOR_RED"]}"#), as: method.input)
        let response = try await self.client.unary(
            method.method.rpcDescriptor, request: RawMessage(bytes: request), responseType: RawMessage.self)
        #expect(
            try self.pool.decode(response.message.bytes, as: method.output).formatted() == """
                {
                  "everything": {
                    "stringValue": "hi"
                  },
                  "colors": [
                    "COLOR_RED",
                    "COLOR_GREEN"
                  ]
                }
                """)
    }

    @Test func aStatusFromTheHandlerReachesTheCaller() async throws {
        let method = try self.pool.method(named: "skyport.testing.v1.ShapeService.Unary")
        let request = try self.pool.encode(JSONValue.parse(#"{"level": "HIGH"}"#), as: method.input)
        let error = await #expect(throws: RPCError.self) {
            try await self.client.unary(
                method.method.rpcDescriptor, request: RawMessage(bytes: request), responseType: RawMessage.self)
        }
        #expect(error?.code == .notFound && error?.message == "no such level")
    }

    @Test func serverStreamingResponsesArriveOneByOne() async throws {
        let method = try self.pool.method(named: "skyport.testing.v1.ShapeService/ServerStream")
        #expect(method.method.shape == .serverStreaming)
        let request = try self.pool.encode(JSONValue.parse(#"{"colors": [1, 2, -1]}"#), as: method.input)
        let output = method.output
        let responses = try await self.client.serverStreaming(
            method.method.rpcDescriptor, request: RawMessage(bytes: request), responseType: RawMessage.self
        ) { stream in
            var texts: [String] = []
            for try await response in stream {
                texts.append(try self.pool.decode(response.bytes, as: output).description)
            }
            return texts
        }
        #expect(
            responses == [
                #"{"colors":["COLOR_RED"]}"#, #"{"colors":["COLOR_GREEN"]}"#, #"{"colors":["COLOR_NEGATIVE"]}"#,
            ])
    }

    @Test func clientStreamingAndBidirectionalCallsTakeASequenceOfMessages() async throws {
        let inputs = try JSONValue.parseSequence("{\"colors\": [\"COLOR_RED\"]}\n{}\n{\"colors\": [\"COLOR_GREEN\"]}")
        let clientStream = try self.pool.method(named: "skyport.testing.v1.ShapeService/ClientStream")
        let requests = try inputs.map { RawMessage(bytes: try self.pool.encode($0, as: clientStream.input)) }
        let merged = try await self.client.clientStreaming(
            clientStream.method.rpcDescriptor, requestType: RawMessage.self, responseType: RawMessage.self
        ) { writer in
            for request in requests { try await writer.write(request) }
        }
        #expect(
            try self.pool.decode(merged.message.bytes, as: clientStream.output).description
                == #"{"colors":["COLOR_RED","COLOR_GREEN"]}"#)

        let bidi = try self.pool.method(named: "skyport.testing.v1.ShapeService/Bidi")
        let echoed = try await self.client.bidirectional(
            bidi.method.rpcDescriptor, requestType: RawMessage.self, responseType: RawMessage.self
        ) { call in
            for request in requests { try await call.write(request) }
            call.finishWriting()
            var texts: [String] = []
            for try await response in call.responses {
                texts.append(try self.pool.decode(response.bytes, as: bidi.output).description)
            }
            return texts
        }
        #expect(echoed == [#"{"colors":["COLOR_RED"]}"#, "{}", #"{"colors":["COLOR_GREEN"]}"#])
    }

    @Test func rawMessagesPassBytesThroughUntouched() throws {
        let bytes: [UInt8] = [0x0a, 0x03, 0x61, 0x62, 0x63, 0xff]
        #expect(RawMessage(serializedBytes: bytes).serializedBytes() == bytes)
        #expect(RawMessage().serializedBytes() == [])
        #expect(RawMessage(bytes: bytes) == RawMessage(serializedBytes: bytes))
    }
}
