import SkyportProto
import SkyportRPC
import SkyportReflection

/// One reflection stream: a request, then its answer, in turn.
final class ReflectionSession {
    private let call: BidirectionalCall<ReflectionClient.Request, ReflectionClient.Response>
    private var responses: ResponseStream<ReflectionClient.Response>.AsyncIterator
    /// Files asked for by name already, so that a server that cannot provide one is asked once.
    private var requestedFiles: Set<String> = []

    init(call: BidirectionalCall<ReflectionClient.Request, ReflectionClient.Response>) {
        self.call = call
        self.responses = call.responses.makeAsyncIterator()
    }

    private func ask(_ query: ReflectionClient.Request.OneOf_MessageRequest) async throws
        -> ReflectionClient.Response.OneOf_MessageResponse?
    {
        var request = ReflectionClient.Request()
        request.messageRequest = query
        try await self.call.write(request)
        guard let response = try await self.responses.next() else {
            throw CallFailure.local("the server ended the reflection stream early")
        }
        return response.messageResponse
    }

    /// Half-closes the stream and reads what is left, so that it ends with the server's status.
    func finish() async throws {
        self.call.finishWriting()
        while try await self.responses.next() != nil {}
    }

    /// The names of the server's services.
    func listServices() async throws -> [String] {
        switch try await self.ask(.listServices("*")) {
        case .listServicesResponse(let list)?: return list.service.map(\.name)
        case .errorResponse(let error)?: throw Self.failure(error)
        default: throw CallFailure.local("the server answered list_services with something else")
        }
    }

    /// Adds the file defining `symbol` (and whatever else the server sends along) to `pool`; `false`
    /// when the server does not know the symbol.
    func loadFile(containing symbol: String, into pool: inout DescriptorPool) async throws -> Bool {
        try await self.load(.fileContainingSymbol(symbol), into: &pool)
    }

    /// Asks for the imported files the pool still lacks, until none is missing or the server has none of them.
    func loadMissingDependencies(into pool: inout DescriptorPool) async throws {
        while let name = pool.missingDependencies.first(where: { !self.requestedFiles.contains($0) }) {
            self.requestedFiles.insert(name)
            _ = try await self.load(.fileByFilename(name), into: &pool)
        }
    }

    private func load(_ query: ReflectionClient.Request.OneOf_MessageRequest, into pool: inout DescriptorPool)
        async throws -> Bool
    {
        switch try await self.ask(query) {
        case .fileDescriptorResponse(let files)?:
            for bytes in files.fileDescriptorProto {
                do {
                    try pool.add(serializedFile: bytes)
                } catch {
                    throw CallFailure.local("the server sent an unusable descriptor: \(error)")
                }
            }
            return true
        case .errorResponse(let error)? where error.errorCode == Int32(Status.Code.notFound.rawValue):
            return false
        case .errorResponse(let error)?:
            throw Self.failure(error)
        default:
            throw CallFailure.local("the server answered a file request with something else")
        }
    }

    private static func failure(_ error: Grpc_Reflection_V1_ErrorResponse) -> RPCError {
        RPCError(
            code: Status.Code(rawValue: Int(error.errorCode)) ?? .unknown,
            message: error.errorMessage)
    }
}
