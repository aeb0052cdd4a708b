import SkyportProto
import SkyportRPC

/// `grpc.reflection.v1.ServerReflection` over a `ReflectionIndex`.
struct ReflectionV1Provider: Grpc_Reflection_V1_ServerReflectionProvider {
    typealias Request = Grpc_Reflection_V1_ServerReflectionRequest
    typealias Response = Grpc_Reflection_V1_ServerReflectionResponse

    let index: ReflectionIndex

    /// Answers each request in order, on the same stream.
    func serverReflectionInfo(
        _ requests: RequestStream<Request>, responses: ResponseWriter<Response>, context: ServerContext
    ) async throws {
        for try await request in requests {
            try await responses.write(self.respond(to: request))
        }
    }

    func respond(to request: Request) -> Response {
        let query: ReflectionQuery
        switch request.messageRequest {
        case .fileByFilename(let name): query = .fileByFilename(name)
        case .fileContainingSymbol(let symbol): query = .fileContainingSymbol(symbol)
        case .fileContainingExtension(let ext):
            query = .fileContainingExtension(containingType: ext.containingType, number: ext.extensionNumber)
        case .allExtensionNumbersOfType(let type): query = .allExtensionNumbersOfType(type)
        case .listServices: query = .listServices
        case nil: query = .missing
        }
        var response = Response()
        response.validHost = request.host
        response.originalRequest = request
        switch self.index.answer(query) {
        case .files(let files):
            var answer = Grpc_Reflection_V1_FileDescriptorResponse()
            answer.fileDescriptorProto = files
            response.messageResponse = .fileDescriptorResponse(answer)
        case .services(let names):
            var answer = Grpc_Reflection_V1_ListServiceResponse()
            answer.service = names.map { name in
                var service = Grpc_Reflection_V1_ServiceResponse()
                service.name = name
                return service
            }
            response.messageResponse = .listServicesResponse(answer)
        case .error(let code, let message):
            var answer = Grpc_Reflection_V1_ErrorResponse()
            answer.errorCode = Int32(code.rawValue)
            answer.errorMessage = message
            response.messageResponse = .errorResponse(answer)
        }
        return response
    }
}

/// `grpc.reflection.v1alpha.ServerReflection`, still used by older clients. Its messages are the v1
/// messages under another package, field for field, so each request is re-read as v1, answered by
/// the v1 provider, and the answer re-read as v1alpha.
struct ReflectionV1AlphaProvider: Grpc_Reflection_V1alpha_ServerReflectionProvider {
    let v1: ReflectionV1Provider

    /// Answers each request in order, on the same stream.
    func serverReflectionInfo(
        _ requests: RequestStream<Grpc_Reflection_V1alpha_ServerReflectionRequest>,
        responses: ResponseWriter<Grpc_Reflection_V1alpha_ServerReflectionResponse>, context: ServerContext
    ) async throws {
        for try await request in requests {
            let v1Request = try Grpc_Reflection_V1_ServerReflectionRequest(serializedBytes: request.serializedBytes())
            let v1Response = self.v1.respond(to: v1Request)
            try await responses.write(
                Grpc_Reflection_V1alpha_ServerReflectionResponse(serializedBytes: v1Response.serializedBytes()))
        }
    }
}
