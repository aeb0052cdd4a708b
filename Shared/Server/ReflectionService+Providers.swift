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

/// `grpc.reflection.v1alpha.ServerReflection` over a `ReflectionIndex`; the same protocol as v1
/// under another package, still used by older clients.
struct ReflectionV1AlphaProvider: Grpc_Reflection_V1alpha_ServerReflectionProvider {
    typealias Request = Grpc_Reflection_V1alpha_ServerReflectionRequest
    typealias Response = Grpc_Reflection_V1alpha_ServerReflectionResponse

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
            var answer = Grpc_Reflection_V1alpha_FileDescriptorResponse()
            answer.fileDescriptorProto = files
            response.messageResponse = .fileDescriptorResponse(answer)
        case .services(let names):
            var answer = Grpc_Reflection_V1alpha_ListServiceResponse()
            answer.service = names.map { name in
                var service = Grpc_Reflection_V1alpha_ServiceResponse()
                service.name = name
                return service
            }
            response.messageResponse = .listServicesResponse(answer)
        case .error(let code, let message):
            var answer = Grpc_Reflection_V1alpha_ErrorResponse()
            answer.errorCode = Int32(code.rawValue)
            answer.errorMessage = message
            response.messageResponse = .errorResponse(answer)
        }
        return response
    }
}
