import SkyportProto
import SkyportRPC
import Testing

/// The grpc.testing and echo messages the interop tests and benchmarks exchange.
@Suite struct GRPCTestingMessageTests {
    @Test func simpleRequestRoundTripsWithNestedPayloadEnumsAndBools() throws {
        var request = Grpc_Testing_SimpleRequest()
        request.responseType = .compressable
        request.responseSize = 314_159
        request.payload = Grpc_Testing_Payload()
        request.payload?.body = [UInt8](repeating: 0, count: 271_828)
        request.fillUsername = true
        request.fillOauthScope = true
        request.responseStatus = Grpc_Testing_EchoStatus()
        request.responseStatus?.code = 2
        request.responseStatus?.message = "test status message ✓"
        request.expectCompressed = Grpc_Testing_BoolValue()
        request.expectCompressed?.value = true

        let decoded = try Grpc_Testing_SimpleRequest(serializedBytes: request.serializedBytes())
        #expect(decoded == request)
        #expect(decoded.payload?.body.count == 271_828)
        #expect(decoded.responseStatus?.message == "test status message ✓")
        #expect(decoded.responseCompressed == nil)
    }

    @Test func simpleResponseRoundTripsWithNonZeroEnum() throws {
        var response = Grpc_Testing_SimpleResponse()
        response.username = "user"
        response.grpclbRouteType = .backend
        response.hostname = "host"
        let decoded = try Grpc_Testing_SimpleResponse(serializedBytes: response.serializedBytes())
        #expect(decoded == response)
        #expect(decoded.grpclbRouteType.rawValue == 2)
    }

    @Test func encodingMatchesTheWireFormat() {
        // Bytes produced independently by Python protobuf for the same message.
        var request = Grpc_Testing_SimpleRequest()
        request.responseSize = 314_159
        request.payload = Grpc_Testing_Payload()
        request.payload?.body = [0, 1, 2, 3]
        request.fillUsername = true
        request.responseStatus = Grpc_Testing_EchoStatus()
        request.responseStatus?.code = 2
        request.responseStatus?.message = "hi"
        let expected: [UInt8] = [
            0x10, 0xaf, 0x96, 0x13,  // response_size = 314159
            0x1a, 0x06, 0x12, 0x04, 0x00, 0x01, 0x02, 0x03,  // payload { body = 00 01 02 03 }
            0x20, 0x01,  // fill_username = true
            0x3a, 0x06, 0x08, 0x02, 0x12, 0x02, 0x68, 0x69,  // response_status { code = 2, message = "hi" }
        ]
        #expect(request.serializedBytes() == expected)
    }

    @Test func decodesHandBuiltWireBytes() throws {
        let bytes: [UInt8] = [
            0x08, 0x00,  // response_type = COMPRESSABLE (explicitly encoded default)
            0x10, 0x80, 0x01,  // response_size = 128
            0x1a, 0x03, 0x12, 0x01, 0x41,  // payload { body = "A" }
            0x28, 0x01,  // fill_oauth_scope = true
        ]
        let request = try Grpc_Testing_SimpleRequest(serializedBytes: bytes)
        #expect(request.responseType == .compressable)
        #expect(request.responseSize == 128)
        #expect(request.payload?.body == [0x41])
        #expect(request.payload?.type == .compressable)
        #expect(request.fillOauthScope)
        #expect(!request.fillUsername)
    }

    @Test func echoInt64ExtremesAndUTF8() throws {
        var request = Echo_EchoRequest()
        request.message = "é"
        request.id = .min
        request.payload = [0xff]
        let expected: [UInt8] = [
            0x0a, 0x02, 0xc3, 0xa9,  // message = "é"
            0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,  // id = Int64.min
            0x1a, 0x01, 0xff,  // payload
        ]
        #expect(request.serializedBytes() == expected)
        #expect(try Echo_EchoRequest(serializedBytes: expected) == request)

        var maximum = Echo_EchoResponse()
        maximum.id = .max
        #expect(maximum.serializedBytes() == [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
        #expect(try Echo_EchoResponse(serializedBytes: maximum.serializedBytes()).id == .max)
    }

    @Test func defaultsEncodeToNothingAndEmptyBytesDecodeToDefaults() throws {
        #expect(Grpc_Testing_SimpleRequest().serializedBytes().isEmpty)
        #expect(Grpc_Testing_Empty().serializedBytes().isEmpty)
        #expect(Echo_EchoRequest().serializedBytes().isEmpty)
        // Fields explicitly set to their defaults are not encoded in proto3.
        var zeroes = Grpc_Testing_SimpleResponse()
        zeroes.username = ""
        zeroes.grpclbRouteType = .unknown
        #expect(zeroes.serializedBytes().isEmpty)

        let decoded = try Grpc_Testing_SimpleRequest(serializedBytes: [])
        #expect(decoded == Grpc_Testing_SimpleRequest())
        #expect(decoded.payload == nil)
        #expect(decoded.responseSize == 0)
        #expect(try Grpc_Testing_Empty(serializedBytes: []) == Grpc_Testing_Empty())
    }

    @Test func unknownFieldsAreSkipped() throws {
        let bytes: [UInt8] = [
            0xf8, 0x07, 0x2a,  // field 127, varint 42 (unknown)
            0x12, 0x02, 0x75, 0x31,  // username = "u1"
            0x9a, 0x3e, 0x03, 0x61, 0x62, 0x63,  // field 1000, length-delimited (unknown)
            0xfd, 0x3e, 0x01, 0x02, 0x03, 0x04,  // field 1007, fixed32 (unknown)
        ]
        let response = try Grpc_Testing_SimpleResponse(serializedBytes: bytes)
        #expect(response.username == "u1")
        var expected = Grpc_Testing_SimpleResponse()
        expected.username = "u1"
        #expect(response == expected)
        // Unknown fields are dropped, not re-encoded.
        #expect(response.serializedBytes() == [0x12, 0x02, 0x75, 0x31])
    }

    @Test(arguments: [
        [0x10] as [UInt8],  // truncated varint
        [0x12, 0x05, 0x61],  // length beyond the end
        [0x1a, 0x02, 0x12, 0x09],  // nested message with a truncated field
        [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],  // varint longer than 10 bytes
        [0x12, 0x00],  // wrong wire type for response_size (int32 as length-delimited)
    ])
    func malformedBytesThrowProtoDecodingError(bytes: [UInt8]) {
        #expect(throws: ProtoDecodingError(messageName: "grpc.testing.SimpleRequest")) {
            try Grpc_Testing_SimpleRequest(serializedBytes: bytes)
        }
    }

    @Test func repeatedMessagesAndNestedMapsRoundTrip() throws {
        var request = Grpc_Testing_StreamingOutputCallRequest()
        for size in [31_415, 9, 2_653, 58_979] {
            var parameters = Grpc_Testing_ResponseParameters()
            parameters.size = Int32(size)
            parameters.intervalUs = 10
            request.responseParameters.append(parameters)
        }
        #expect(try Grpc_Testing_StreamingOutputCallRequest(serializedBytes: request.serializedBytes()) == request)

        var stats = Grpc_Testing_LoadBalancerStatsResponse()
        stats.rpcsByPeer = ["peer-a": 3, "peer-b": 4]
        var byPeer = Grpc_Testing_LoadBalancerStatsResponse.RpcsByPeer()
        byPeer.rpcsByPeer = ["peer-a": 1]
        stats.rpcsByMethod = ["UnaryCall": byPeer, "EmptyCall": .init()]
        stats.numFailures = 1
        #expect(try Grpc_Testing_LoadBalancerStatsResponse(serializedBytes: stats.serializedBytes()) == stats)

        var configure = Grpc_Testing_ClientConfigureRequest()
        configure.types = [.emptyCall, .unaryCall]
        var metadata = Grpc_Testing_ClientConfigureRequest.Metadata()
        metadata.type = .unaryCall
        metadata.key = "k"
        metadata.value = "v"
        configure.metadata = [metadata]
        #expect(try Grpc_Testing_ClientConfigureRequest(serializedBytes: configure.serializedBytes()) == configure)
    }

    @Test func enumPrefixesAreStrippedAndUnknownValuesKept() throws {
        #expect(Grpc_Health_V1_HealthCheckResponse.ServingStatus(rawValue: 3) == .serviceUnknown)
        #expect(Grpc_Testing_GrpclbRouteType(rawValue: 1) == .fallback)
        // An enum value this build does not know survives a round trip.
        let response = try Grpc_Health_V1_HealthCheckResponse(serializedBytes: [0x08, 0x09])
        #expect(response.status == .unrecognized(9))
        #expect(response.serializedBytes() == [0x08, 0x09])
    }
}
