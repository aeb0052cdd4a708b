import BillingService
import DistributionService
import EntitlementService
import ForecastService
import HostManagerService
import Metrics
@testable import RedemptionService
import SkyportProto
import SkyportRPC
import SkyportSecurity
import SkyportStorage
@testable import StreamHostService
import Testing

/// One service's access rules, checked through its real provider behind `IdentityAuthorizationInterceptor`
/// (in-process calls carry a `TLSIdentity` in their `PeerInfo`, as a mutual-TLS connection would).
struct PolicyCase: Sendable, CustomStringConvertible {
    /// The service's name.
    let description: String
    let policy: MethodAccessPolicy
    let migrations: [Migration]
    /// The provider over a migrated database (prepared as the runtime would, e.g. a stream host started).
    let makeService: @Sendable (Database) async throws -> any RPCService
    /// One internal method with a valid request: OK when the policy lets the caller through.
    let call: @Sendable (RPCClient) async throws -> Void
    /// An identity the method's rule lists.
    let allowed: String
    /// Another service's identity that the rule does not list.
    let denied: String

    static let all: [PolicyCase] = [
        PolicyCase(
            description: "billing", policy: Billing.accessPolicy, migrations: BillingStore.migrations,
            makeService: { BillingService(store: BillingStore(database: $0)) },
            call: { client in
                var request = Skyport_Billing_V1_GetUsageRequest()
                request.developerId = "dev_a"
                _ = try await Skyport_Billing_V1_BillingClient(client).getUsage(request)
            },
            allowed: "entitlement", denied: "hostmgr"),
        PolicyCase(
            description: "distribution", policy: Distribution.accessPolicy, migrations: DistributionStore.migrations,
            makeService: { DistributionService(store: DistributionStore(database: $0)) },
            call: { client in
                var request = Skyport_Distribution_V1_RegisterPackageRequest()
                request.appId = "app-1"
                request.version = "1.0.0"
                request.sizeBytes = 1
                request.sha256 = String(repeating: "ab", count: 32)
                _ = try await Skyport_Distribution_V1_DistributionClient(client).registerPackage(request)
            },
            allowed: "entitlement", denied: "streamhost"),
        PolicyCase(
            description: "entitlement", policy: Entitlement.accessPolicy, migrations: EntitlementStore.migrations,
            makeService: {
                EntitlementService(
                    store: EntitlementStore(database: $0, hasher: APIKeyHasher()), catalog: CatalogStore(database: $0),
                    sessions: UnreachableHostManagers(), redemptionEndpoints: [])
            },
            call: { client in
                var request = Skyport_Entitlement_V1_CreateDeveloperRequest()
                request.displayName = "Ada"
                request.email = "ada@example.com"
                _ = try await Skyport_Entitlement_V1_EntitlementClient(client).createDeveloper(request)
            },
            allowed: "skyport", denied: "billing"),
        PolicyCase(
            description: "forecast", policy: Forecast.accessPolicy, migrations: ForecastStore.migrations,
            makeService: { ForecastService(store: ForecastStore(database: $0)) },
            call: { client in
                var request = Skyport_Forecast_V1_RecordDemandRequest()
                request.appId = "app-1"
                request.region = "eu-west"
                request.observedAtUnixMs = 1_700_000_000_000
                request.sessions = 1
                _ = try await Skyport_Forecast_V1_ForecastClient(client).recordDemand(request)
            },
            allowed: "hostmgr", denied: "entitlement"),
        PolicyCase(
            description: "hostmgr", policy: HostManager.accessPolicy, migrations: HostManagerMigrations.all,
            makeService: { HostManagerServiceTests.service($0) },
            call: { client in
                var request = Skyport_Hostmgr_V1_RegisterHostRequest()
                request.hostId = "host-a"
                request.address = "10.0.0.1:7107"
                request.datacentre = "dc1"
                request.slots = 1
                _ = try await Skyport_Hostmgr_V1_HostManagerClient(client).registerHost(request)
            },
            allowed: "streamhost", denied: "skyport"),
        PolicyCase(
            description: "redemption", policy: Redemption.accessPolicy, migrations: RedemptionStore.migrations,
            makeService: {
                RedemptionService(
                    store: RedemptionStore(database: $0), directory: DataCentreDirectory(), prefixTable: PrefixTable(),
                    trustedProxies: TrustedProxies([]), connector: NoHostManagers(),
                    metrics: RouteMetrics(factory: NOOPMetricsHandler.instance), logger: ServiceBackend.logger)
            },
            call: { client in
                _ = try await Skyport_Redemption_V1_RedemptionClient(client).listDataCentres(.init())
            },
            allowed: "skyport", denied: "entitlement"),
        PolicyCase(
            description: "streamhost", policy: StreamHost.accessPolicy, migrations: StreamHostStore.migrations,
            makeService: { db in
                let store = StreamHostStore(database: db)
                try await store.recordStart(now: 1)
                let configuration = try StreamHost.specification.configSchema.parse(
                    arguments: [
                        "--tls-cert", "/dev/null", "--tls-key", "/dev/null", "--tls-ca", "/dev/null", "--hostmgr",
                        "127.0.0.1:7103",
                    ], environment: [:])
                return StreamHostServiceTests.service(
                    store: store, capacity: try Capacity(configuration: configuration))
            },
            call: { client in
                _ = try await Skyport_Streamhost_V1_StreamHostClient(client).getStatus(.init())
            },
            allowed: "hostmgr", denied: "forecast"),
    ]
}

@Suite("Access policies")
struct AccessPolicyTests {
    @Test(
        "an allowed identity passes, another service is PERMISSION_DENIED, no certificate is UNAUTHENTICATED",
        arguments: PolicyCase.all, ServiceBackend.all)
    func internalMethod(policy: PolicyCase, backend: ServiceBackend) async throws {
        try await backend.withDatabase(migrations: policy.migrations) { db in
            let server = InProcessServer(services: [try await policy.makeService(db)], policy: policy.policy)
            // Denied callers first: had they reached the handler, the allowed call below could fail.
            await expectStatus(.permissionDenied) { try await policy.call(server.client(as: policy.denied)) }
            await expectStatus(.unauthenticated) { try await policy.call(server.client(as: nil)) }
            await expectStatus(.permissionDenied) { try await policy.call(server.client(as: "stranger")) }
            await expectStatus(.ok) { try await policy.call(server.client(as: policy.allowed)) }
        }
    }

    @Test("the identity may also come from a SPIFFE URI in the trust domain", arguments: PolicyCase.all)
    func spiffeIdentity(policy: PolicyCase) async throws {
        let byCommonName = TLSIdentity(commonName: policy.allowed)
        let reachable = try await Self.routedMethods(of: policy).filter {
            policy.policy.decide(method: $0, identity: byCommonName) == .allowService(policy.allowed)
        }
        #expect(!reachable.isEmpty)
        let byURI = TLSIdentity(commonName: nil, uris: ["spiffe://skyport.local/\(policy.allowed)"])
        let foreign = TLSIdentity(commonName: nil, uris: ["spiffe://elsewhere.example/\(policy.allowed)"])
        for method in reachable {
            #expect(policy.policy.decide(method: method, identity: byURI) == .allowService(policy.allowed))
            #expect(policy.policy.decide(method: method, identity: foreign) != .allowService(policy.allowed))
        }
    }

    @Test("every routed method has a rule (none is denied by omission)", arguments: PolicyCase.all)
    func everyMethodHasARule(policy: PolicyCase) async throws {
        let methods = try await Self.routedMethods(of: policy)
        #expect(!methods.isEmpty)
        for method in methods {
            #expect(policy.policy.access(for: method) != nil, "\(method.path)")
        }
    }

    @Test("the public methods are exactly the ones the protos document as public")
    func publicMethods() async throws {
        var publicMethods: [String: MethodAccess] = [:]
        for policy in PolicyCase.all {
            for method in try await Self.routedMethods(of: policy) where !Self.isInternal(method, policy) {
                publicMethods[method.path] = policy.policy.access(for: method)
            }
        }
        #expect(
            publicMethods == [
                "/skyport.entitlement.v1.Entitlement/WhoAmI": .publicMethod(.apiKey),
                "/skyport.entitlement.v1.Entitlement/RegisterApplication": .publicMethod(.apiKey),
                "/skyport.entitlement.v1.Entitlement/GetApplication": .publicMethod(.apiKey),
                "/skyport.entitlement.v1.Entitlement/PublishVersion": .publicMethod(.apiKey),
                "/skyport.entitlement.v1.Entitlement/GrantEntitlement": .publicMethod(.apiKey),
                "/skyport.entitlement.v1.Entitlement/RevokeEntitlement": .publicMethod(.apiKey),
                "/skyport.entitlement.v1.Entitlement/ListEntitlements": .publicMethod(.apiKey),
                "/skyport.entitlement.v1.Entitlement/RequestSession": .publicMethod(.apiKey),
                "/skyport.entitlement.v1.Entitlement/RollOutVersion": .publicMethod(.apiKey),
                "/skyport.redemption.v1.Redemption/Redeem": .publicMethod(.handler),
            ])
    }

    @Test("a call refused before its request is sent reports the refusal, not CANCELLED")
    func refusalBeforeTheRequestIsSent() async throws {
        try await ServiceBackend(kind: .sqliteMemory).withDatabase(migrations: BillingStore.migrations) { db in
            let server = InProcessServer(
                services: [BillingService(store: BillingStore(database: db))], policy: Billing.accessPolicy)
            let peer = PeerInfo(address: "in-process", identity: TLSIdentity(commonName: "forecast"))
            var request = Skyport_Billing_V1_GetUsageRequest()
            request.developerId = "dev_a"

            let transport = LateSenderTransport(base: InProcessTransport(router: server.router, peer: peer))
            await expectStatus(.permissionDenied) {
                try await Skyport_Billing_V1_BillingClient(RPCClient(transport: transport)).getUsage(request)
            }
        }
    }

    /// The methods a service's provider routes (its generated method table).
    static func routedMethods(of policy: PolicyCase) async throws -> [MethodDescriptor] {
        try await ServiceBackend(kind: .sqliteMemory).withDatabase(migrations: policy.migrations) { db in
            try await policy.makeService(db).methods.map(\.descriptor)
        }
    }

    static func isInternal(_ method: MethodDescriptor, _ policy: PolicyCase) -> Bool {
        if case .services = policy.policy.access(for: method) { return true }
        return false
    }
}

/// Sends nothing until the server has ended the call: the deterministic form of a client that is
/// slower to send its request than an interceptor is to refuse the call.
struct LateSenderTransport: ClientTransport {
    let base: any ClientTransport

    func openStream(method: MethodDescriptor, metadata: Metadata, options: CallOptions) async throws
        -> any ClientCallStream
    {
        let stream = try await self.base.openStream(method: method, metadata: metadata, options: options)
        _ = await stream.receiveStatus()
        return stream
    }
}
