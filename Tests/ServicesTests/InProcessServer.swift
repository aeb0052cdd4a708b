import SkyportRPC
import SkyportSecurity
import Testing

/// One service behind the interceptors it runs with in production, reached over
/// `InProcessTransport`: calls take the real RPC path (encoding, router, interceptors, status mapping)
/// without sockets or TLS.
///
/// `ServiceRuntime` puts `IdentityAuthorizationInterceptor(policy: specification.accessPolicy)` first
/// and the service's own interceptors (e.g. entitlement's `APIKeyAuthenticator`) after it; so does this.
struct InProcessServer: Sendable {
    /// The operator's identity, allowed to call every internal method of every service.
    static let operatorIdentity = "skyport"

    let router: Router

    init(services: [any RPCService], policy: MethodAccessPolicy, interceptors: [any ServerInterceptor] = []) {
        self.router = Router(
            services: services, interceptors: [IdentityAuthorizationInterceptor(policy: policy)] + interceptors)
    }

    /// A client whose calls arrive as if over mutual TLS with a client certificate whose common name
    /// is `identity`; `nil` is a caller without a certificate.
    func client(as identity: String?) -> RPCClient {
        let peer = PeerInfo(address: "in-process", identity: identity.map { TLSIdentity(commonName: $0) })
        return RPCClient(transport: InProcessTransport(router: self.router, peer: peer))
    }
}

/// Expects `call` to end with `expected` as its client sees it; on a mismatch the issue names the
/// status (and message) the call really ended with.
func expectStatus<T>(
    _ expected: Status.Code, _ comment: @autoclosure () -> Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation, _ call: () async throws -> T
) async {
    let actual: String
    do {
        _ = try await call()
        if expected == .ok { return }
        actual = "OK"
    } catch let error as RPCError {
        if error.code == expected { return }
        actual = "\(error)"
    } catch {
        actual = "a non-RPC error: \(error)"
    }
    let detail = comment().map { " (\($0))" } ?? ""
    Issue.record("expected \(expected), got \(actual)\(detail)", sourceLocation: sourceLocation)
}
