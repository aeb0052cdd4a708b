public import SkyportRPC

/// Which callers may call which methods: the allow-lists `IdentityAuthorizationInterceptor` enforces.
///
/// A caller's identities are its verified certificate's common name and its URI SANs; the URI
/// `spiffe://<trustDomain>/<name>` counts as the identity `<name>`. DNS SANs are not identities (every
/// development certificate carries `localhost`). Rules for a method win over rules for its service.
/// A method with no rule is denied (fail closed), except `grpc.health.v1.Health` and server reflection,
/// which are public unless a rule says otherwise.
///
/// ```swift
/// var policy = MethodAccessPolicy()
/// policy.allow(["hostmgr", "entitlement"], toCall: HostManagerMethods.register)
/// policy.allow(["forecast"], toCallService: "skyport.billing.v1.Billing")
/// policy.makePublic(EntitlementMethods.createApp, authentication: .apiKey)
/// ```
public struct MethodAccessPolicy: Sendable {
    /// The services that are public by default: health and reflection.
    public static let defaultPublicServices: Set<String> = [
        "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
    ]

    /// The SPIFFE trust domain whose URI SANs name services, `skyport.local` by default.
    public var trustDomain: String
    private var methodRules: [String: MethodAccess] = [:]
    private var serviceRules: [String: MethodAccess] = [:]

    /// An empty policy: everything but health and reflection is denied until allowed.
    public init(trustDomain: String = "skyport.local") {
        self.trustDomain = trustDomain
    }

    /// Lets `identities` call `method` (replacing any earlier rule for it).
    public mutating func allow(_ identities: Set<String>, toCall method: MethodDescriptor) {
        self.methodRules[method.path] = .services(identities)
    }

    /// Lets `identities` call every method of `service` (e.g. `skyport.hostmgr.v1.HostManager`) that has
    /// no rule of its own.
    public mutating func allow(_ identities: Set<String>, toCallService service: String) {
        self.serviceRules[service] = .services(identities)
    }

    /// Makes `method` public: any caller reaches it, and it authenticates them by `authentication`.
    public mutating func makePublic(_ method: MethodDescriptor, authentication: PublicAuthentication) {
        self.methodRules[method.path] = .publicMethod(authentication)
    }

    /// Makes every method of `service` without a rule of its own public.
    public mutating func makePublic(service: String, authentication: PublicAuthentication) {
        self.serviceRules[service] = .publicMethod(authentication)
    }

    /// The rule that applies to `method`: its own, its service's, the health/reflection default, or `nil`.
    public func access(for method: MethodDescriptor) -> MethodAccess? {
        if let rule = self.methodRules[method.path] { return rule }
        if let rule = self.serviceRules[method.service] { return rule }
        if Self.defaultPublicServices.contains(method.service) { return .publicMethod(.none) }
        return nil
    }

    /// The names `identity` asserts as a caller: its common name, and the service name of each URI SAN in
    /// the trust domain (as well as each URI SAN as written).
    public func callerNames(of identity: TLSIdentity) -> [String] {
        var names: [String] = []
        if let commonName = identity.commonName, !commonName.isEmpty { names.append(commonName) }
        let prefix = "spiffe://\(self.trustDomain)/"
        for uri in identity.uris {
            names.append(uri)
            if uri.hasPrefix(prefix), case let name = String(uri.dropFirst(prefix.count)), !name.isEmpty,
                !name.utf8.contains(UInt8(ascii: "/"))
            {
                names.append(name)
            }
        }
        return names
    }

    /// Decides one call from its method and the verified TLS identity of the client (`nil` without a
    /// client certificate). Pure: no I/O.
    public func decide(method: MethodDescriptor, identity: TLSIdentity?) -> AccessDecision {
        switch self.access(for: method) {
        case nil:
            return .deny(RPCError(code: .permissionDenied, message: "\(method.path) has no access policy; denied"))
        case .publicMethod(let authentication):
            return .allowPublic(authentication)
        case .services(let allowed):
            guard let identity else {
                return .deny(
                    RPCError(code: .unauthenticated, message: "\(method.path) requires a client certificate"))
            }
            let names = self.callerNames(of: identity)
            if let match = names.first(where: allowed.contains) {
                // Report the short service name when the match was its SPIFFE URI.
                let prefix = "spiffe://\(self.trustDomain)/"
                return .allowService(match.hasPrefix(prefix) ? String(match.dropFirst(prefix.count)) : match)
            }
            return .deny(
                RPCError(code: .permissionDenied, message: "caller '\(identity)' may not call \(method.path)"))
        }
    }
}
