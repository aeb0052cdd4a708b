import Foundation
import Logging
import SkyportProto
import SkyportRPC

/// `grpc.testing.TestService` with the server features of the gRPC interop specification
/// (doc/interop-test-descriptions.md, "Server"): sized zero payloads, Echo Status, Echo Metadata,
/// `ResponseParameters.interval_us`, and UNIMPLEMENTED for `UnimplementedCall`.
///
/// A `FullDuplexCall` that is never half-closed waits for the next request, which is the sleeping server
/// that `timeout_on_sleeping_server` needs: the client's deadline ends the call.
struct InteropTestService: Grpc_Testing_TestServiceProvider {
    /// The request key whose values are echoed in the response headers.
    static let echoInitialKey = "x-grpc-test-echo-initial"
    /// The request key whose values are echoed in the trailers.
    static let echoTrailingKey = "x-grpc-test-echo-trailing-bin"

    let logger: Logger

    func emptyCall(_ request: Grpc_Testing_Empty, context: ServerContext) async throws -> Grpc_Testing_Empty {
        Self.echoMetadata(context)
        return Grpc_Testing_Empty()
    }

    func unaryCall(
        _ request: Grpc_Testing_SimpleRequest, context: ServerContext
    ) async throws -> Grpc_Testing_SimpleResponse {
        Self.echoMetadata(context)
        try Self.throwRequestedStatus(request.responseStatus)
        var response = Grpc_Testing_SimpleResponse()
        response.payload = try Self.payload(type: request.responseType, size: request.responseSize)
        return response
    }

    func cacheableUnaryCall(
        _ request: Grpc_Testing_SimpleRequest, context: ServerContext
    ) async throws -> Grpc_Testing_SimpleResponse {
        Self.echoMetadata(context)
        context.initialResponseMetadata.add("cache-control", "max-age=60, public")
        var payload = Grpc_Testing_Payload()
        // Nanoseconds since the epoch: different for every call, so a cache hit is recognisable.
        payload.body = Array("\(UInt64(Date().timeIntervalSince1970 * 1_000_000_000))".utf8)
        var response = Grpc_Testing_SimpleResponse()
        response.payload = payload
        return response
    }

    func streamingOutputCall(
        _ request: Grpc_Testing_StreamingOutputCallRequest,
        responses: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>,
        context: ServerContext
    ) async throws {
        Self.echoMetadata(context)
        responses.sendHeaders()
        try Self.throwRequestedStatus(request.responseStatus)
        try await Self.respond(to: request, with: responses)
    }

    func streamingInputCall(
        _ requests: RequestStream<Grpc_Testing_StreamingInputCallRequest>, context: ServerContext
    ) async throws -> Grpc_Testing_StreamingInputCallResponse {
        Self.echoMetadata(context)
        var total = 0
        for try await request in requests {
            total += request.payload?.body.count ?? 0
        }
        var response = Grpc_Testing_StreamingInputCallResponse()
        response.aggregatedPayloadSize = Int32(clamping: total)
        return response
    }

    func fullDuplexCall(
        _ requests: RequestStream<Grpc_Testing_StreamingOutputCallRequest>,
        responses: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>,
        context: ServerContext
    ) async throws {
        Self.echoMetadata(context)
        responses.sendHeaders()
        for try await request in requests {
            try Self.throwRequestedStatus(request.responseStatus)
            try await Self.respond(to: request, with: responses)
        }
    }

    func halfDuplexCall(
        _ requests: RequestStream<Grpc_Testing_StreamingOutputCallRequest>,
        responses: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>,
        context: ServerContext
    ) async throws {
        Self.echoMetadata(context)
        var buffered: [Grpc_Testing_StreamingOutputCallRequest] = []
        for try await request in requests {
            buffered.append(request)
        }
        responses.sendHeaders()
        for request in buffered {
            try Self.throwRequestedStatus(request.responseStatus)
            try await Self.respond(to: request, with: responses)
        }
    }

    func unimplementedCall(_ request: Grpc_Testing_Empty, context: ServerContext) async throws -> Grpc_Testing_Empty {
        throw RPCError(code: .unimplemented, message: "grpc.testing.TestService/UnimplementedCall is not implemented")
    }
}

extension InteropTestService {
    /// Copies the echo keys of the request metadata into the response headers and trailers.
    static func echoMetadata(_ context: ServerContext) {
        let initial = context.requestMetadata[values: Self.echoInitialKey]
        if !initial.isEmpty {
            var metadata = context.initialResponseMetadata
            for value in initial { metadata.add(Self.echoInitialKey, value) }
            context.initialResponseMetadata = metadata
        }
        let trailing = context.requestMetadata[values: Self.echoTrailingKey]
        if !trailing.isEmpty {
            var metadata = context.trailingResponseMetadata
            for value in trailing { metadata.add(Self.echoTrailingKey, value) }
            context.trailingResponseMetadata = metadata
        }
    }

    /// Ends the call with the status the client asked for (Echo Status), unless it is OK or absent.
    static func throwRequestedStatus(_ status: Grpc_Testing_EchoStatus?) throws {
        guard let status, status.code != 0 else { return }
        let code = Status.Code(rawValue: Int(status.code)) ?? .unknown
        throw RPCError(code: code, message: status.message)
    }

    /// A payload of `size` zero bytes; INVALID_ARGUMENT for a negative size or an unknown payload type.
    static func payload(type: Grpc_Testing_PayloadType, size: Int32) throws -> Grpc_Testing_Payload {
        guard case .compressable = type else {
            throw RPCError(code: .invalidArgument, message: "Unsupported response type \(type.rawValue)")
        }
        guard size >= 0 else {
            throw RPCError(code: .invalidArgument, message: "Negative response size \(size)")
        }
        var payload = Grpc_Testing_Payload()
        payload.type = .compressable
        payload.body = [UInt8](repeating: 0, count: Int(size))
        return payload
    }

    /// Sends one response per `ResponseParameters`, each after sleeping its `interval_us`.
    static func respond(
        to request: Grpc_Testing_StreamingOutputCallRequest,
        with responses: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>
    ) async throws {
        for parameters in request.responseParameters {
            if parameters.intervalUs > 0 {
                try await Task.sleep(for: .microseconds(parameters.intervalUs))
            }
            var response = Grpc_Testing_StreamingOutputCallResponse()
            response.payload = try Self.payload(type: request.responseType, size: parameters.size)
            try await responses.write(response)
        }
    }
}

extension Metadata {
    /// Appends `value` under `key`, keeping its kind (text or binary).
    fileprivate mutating func add(_ key: String, _ value: Metadata.Value) {
        switch value {
        case .string(let text): self.add(key, text)
        case .binary(let bytes): self.add(key, binary: bytes)
        }
    }
}
