/// Runs around every server call: authentication, logging, metrics.
///
/// Interceptors run in the order the server lists them; each calls `next` to continue, or throws
/// `RPCError` to end the call with that status without running the handler.
public protocol ServerInterceptor: Sendable {
    /// Intercepts one call.
    func intercept(context: ServerContext, next: () async throws -> Void) async throws
}
