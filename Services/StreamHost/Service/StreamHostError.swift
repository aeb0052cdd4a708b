import SkyportRPC

/// What goes wrong in the stream host's runtime, mapped to a gRPC status in exactly one place
/// (``rpcError``).
enum StreamHostError: Error, Sendable, Equatable {
    /// A malformed request.
    case invalidArgument(String)
    /// An instance or session that is not there.
    case notFound(String)
    /// A session id provisioned already.
    case alreadyExists(String)
    /// The host cannot do it in its current state (package missing, instance draining, no free seat).
    case failedPrecondition(String)
    /// The host's free resources cannot carry it.
    case resourceExhausted(String)
    /// The application did not come up.
    case unavailable(String)
    /// A client that did not prove it holds a provisioned session.
    case unauthenticated

    /// The status a caller sees.
    var rpcError: RPCError {
        switch self {
        case .invalidArgument(let message): RPCError(code: .invalidArgument, message: message)
        case .notFound(let message): RPCError(code: .notFound, message: message)
        case .alreadyExists(let message): RPCError(code: .alreadyExists, message: message)
        case .failedPrecondition(let message): RPCError(code: .failedPrecondition, message: message)
        case .resourceExhausted(let message): RPCError(code: .resourceExhausted, message: message)
        case .unavailable(let message): RPCError(code: .unavailable, message: message)
        // One message for an unknown session, a bad credential and a wrong first message, so a caller
        // learns nothing about which sessions exist.
        case .unauthenticated:
            RPCError(code: .unauthenticated, message: "the first message must be hello with a valid session credential")
        }
    }
}
