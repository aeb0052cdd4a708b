import SkyportProto
import SkyportRPC

/// `echo.Echo`: returns the request's message, id and payload unchanged (the peer-benchmark method).
struct EchoService: Echo_EchoProvider {
    func unary(_ request: Echo_EchoRequest, context: ServerContext) async throws -> Echo_EchoResponse {
        var response = Echo_EchoResponse()
        response.message = request.message
        response.id = request.id
        response.payload = request.payload
        return response
    }
}
