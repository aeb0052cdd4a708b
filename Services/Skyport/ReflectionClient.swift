import SkyportProto
import SkyportRPC
import SkyportReflection

/// Server reflection over `grpc.reflection.v1`, falling back to `v1alpha` (the same messages on another
/// path) for servers that only have the older one, such as grpcio's.
struct ReflectionClient {
    typealias Request = Grpc_Reflection_V1_ServerReflectionRequest
    typealias Response = Grpc_Reflection_V1_ServerReflectionResponse

    static let v1alpha = MethodDescriptor(
        service: "grpc.reflection.v1alpha.ServerReflection", method: "ServerReflectionInfo")

    let client: RPCClient
    let metadata: Metadata
    let timeout: Duration

    /// Runs `body` over one reflection stream. Statuses are reported as reflection's, so that a failure
    /// to connect or to authenticate is not mistaken for the called method's status text.
    func withSession<Result: Sendable>(_ body: (ReflectionSession) async throws -> Result) async throws -> Result {
        let options = CallOptions(timeout: self.timeout)
        do {
            do {
                return try await Grpc_Reflection_V1_ServerReflectionClient(self.client).serverReflectionInfo(
                    metadata: self.metadata, options: options
                ) { call in
                    try await Self.run(call, body)
                }
            } catch let error as RPCError where error.code == .unimplemented {
                return try await self.client.bidirectional(
                    Self.v1alpha, metadata: self.metadata, options: options, requestType: Request.self,
                    responseType: Response.self
                ) { call in
                    try await Self.run(call, body)
                }
            }
        } catch let error as RPCError {
            throw RPCError(code: error.code, message: "server reflection: \(error.message)", metadata: error.metadata)
        }
    }

    private static func run<Result: Sendable>(
        _ call: BidirectionalCall<Request, Response>, _ body: (ReflectionSession) async throws -> Result
    ) async throws -> Result {
        let session = ReflectionSession(call: call)
        let result = try await body(session)
        // Half-close and read to the end, so the server ends the stream with OK instead of seeing it
        // cancelled.
        try await session.finish()
        return result
    }
}
