/// Who the security interceptors decided is calling, for handlers to read.
///
/// `ServerContext` has no slot for custom values, so the interceptors bind the caller in a task-local
/// around the rest of the call: a handler (and anything it awaits in the same task tree) reads
/// `AuthenticatedCaller.current`. It is `nil` for public methods that authenticate in the handler.
public enum AuthenticatedCaller: Sendable, Hashable, CustomStringConvertible {
    /// Another Skyport service, by the identity its client certificate asserts (e.g. `hostmgr`).
    case service(String)
    /// A developer who presented a valid API key.
    case apiKey(keyID: String, principal: String)

    /// The caller of the current call, bound by `IdentityAuthorizationInterceptor` or `APIKeyAuthenticator`.
    @TaskLocal public static var current: AuthenticatedCaller?

    /// `service:<name>` or `api-key:<keyID> (<principal>)`; never a secret.
    public var description: String {
        switch self {
        case .service(let name): "service:\(name)"
        case .apiKey(let keyID, let principal): "api-key:\(keyID) (\(principal))"
        }
    }
}
