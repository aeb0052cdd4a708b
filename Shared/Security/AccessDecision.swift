public import SkyportRPC

/// What `MethodAccessPolicy` decided about one call.
public enum AccessDecision: Sendable, Hashable {
    /// A service on the method's list: continue, with this identity as the caller.
    case allowService(String)
    /// A public method: continue; it authenticates its callers this way.
    case allowPublic(PublicAuthentication)
    /// Refused: end the call with this error (UNAUTHENTICATED or PERMISSION_DENIED).
    case deny(RPCError)
}
