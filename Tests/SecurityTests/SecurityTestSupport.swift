import SkyportRPC
import SkyportSecurity
import SkyportTestSupport

/// A tiny service whose every method answers with the caller the interceptors authenticated.
enum Guarded {
    static let service = "test.security.v1.Guarded"
    static let forHostmgr = MethodDescriptor(service: service, method: "ForHostmgr")
    static let forBilling = MethodDescriptor(service: service, method: "ForBilling")
    static let withAPIKey = MethodDescriptor(service: service, method: "WithAPIKey")
    static let undeclared = MethodDescriptor(service: service, method: "Undeclared")
    static let health = MethodDescriptor(service: "grpc.health.v1.Health", method: "Check")

    static var policy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.allow(["hostmgr", "entitlement"], toCall: forHostmgr)
        policy.allow(["billing"], toCall: forBilling)
        policy.makePublic(withAPIKey, authentication: .apiKey)
        return policy
    }
}

struct GuardedService: RPCService {
    var methods: [ServerMethod] {
        [Guarded.forHostmgr, Guarded.forBilling, Guarded.withAPIKey, Guarded.undeclared, Guarded.health].map { method in
            .unary(method, Blob.self, Blob.self) { _, _ in
                Blob(AuthenticatedCaller.current.map { "\($0)" } ?? "none")
            }
        }
    }
}
