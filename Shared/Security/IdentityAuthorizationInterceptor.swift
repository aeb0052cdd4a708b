public import SkyportRPC

/// Enforces a `MethodAccessPolicy` on every call from the verified TLS identity in `context.peer`.
///
/// A service on the method's list continues with `AuthenticatedCaller.current` set to
/// `.service(name)`; a public method continues untouched (its own authentication, e.g.
/// `APIKeyAuthenticator`, comes next); anything else ends with UNAUTHENTICATED (no client certificate)
/// or PERMISSION_DENIED (not on the list, or no policy). List it before every interceptor that trusts
/// the caller (the service runtime puts only its call observer, which logs and counts refusals, first).
public struct IdentityAuthorizationInterceptor: ServerInterceptor {
    /// The allow-lists.
    public let policy: MethodAccessPolicy

    /// Creates the interceptor.
    public init(policy: MethodAccessPolicy) {
        self.policy = policy
    }

    /// Continues or throws the policy's `RPCError`.
    public func intercept(context: ServerContext, next: () async throws -> Void) async throws {
        switch self.policy.decide(method: context.method, identity: context.peer.identity) {
        case .allowService(let name):
            try await AuthenticatedCaller.$current.withValue(.service(name)) { try await next() }
        case .allowPublic:
            try await next()
        case .deny(let error):
            throw error
        }
    }
}
