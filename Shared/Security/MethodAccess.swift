/// Who may call one method.
public enum MethodAccess: Sendable, Hashable {
    /// Only these service identities, proven by a client certificate from the internal CA.
    case services(Set<String>)
    /// Anyone who reaches the server; the method authenticates its callers by `PublicAuthentication`.
    case publicMethod(PublicAuthentication)
}

/// How a public method authenticates its callers, instead of a client certificate.
public enum PublicAuthentication: Sendable, Hashable {
    /// Not at all: health checks and reflection.
    case none
    /// An API key, checked by `APIKeyAuthenticator` before the handler runs.
    case apiKey
    /// By the handler itself (e.g. a redemption token that is itself the credential).
    case handler
}
