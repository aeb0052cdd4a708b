import Foundation
public import SkyportConfig
import SkyportProto
public import SkyportSecurity
public import SkyportService

/// The entitlement service, the developer integration endpoint: developer accounts and API keys (stored
/// hashed, checked in constant time), the application catalogue, entitlements, and session requests
/// that return a one-time token from the application's home host management.
public enum Entitlement {
    /// A file holding a secret pepper: API keys are then stored as HMAC-SHA-256 instead of SHA-256, so
    /// a stolen database alone cannot be used to check guesses.
    public static let apiKeyPepperFile = ConfigKey<String?>(
        "api-key-pepper-file", help: "File holding a secret pepper for API-key hashes (HMAC-SHA-256).")

    /// The host management of each data centre, where sessions are created.
    public static let hostmgrs = ConfigKey<DatacentreAddresses>(
        "hostmgrs", default: DatacentreAddresses.parse(configText: "dc1=127.0.0.1:7103,dc2=127.0.0.1:7113")!,
        help: "Host management per data centre: dc1=host:port,dc2=host:port.")
    /// Where clients redeem tokens.
    public static let redemptionEndpoints = ConfigKey<String>(
        "redemption-endpoints", default: "127.0.0.1:7102",
        help: "Comma-separated host:port of the redemption nodes given to clients, nearest first.")

    /// How `entitlement` runs: port 7101, metrics 9101.
    public static let specification = ServiceSpecification(
        name: "entitlement", defaultPort: 7101, defaultMetricsPort: 9101,
        keys: [Self.apiKeyPepperFile, Self.hostmgrs, Self.redemptionEndpoints],
        migrations: EntitlementStore.migrations, accessPolicy: Self.accessPolicy
    ) { context in
        let configuration = context.configuration
        let hasher = APIKeyHasher(pepper: try Self.pepper(configuration))
        let store = EntitlementStore(database: context.database, hasher: hasher)
        let endpoints = configuration[Self.redemptionEndpoints].split(separator: ",").map(String.init)
        guard !endpoints.isEmpty, endpoints.allSatisfy({ HostAndPort.parse(configText: $0) != nil }) else {
            throw configuration.invalid(Self.redemptionEndpoints, "expected host:port,host:port")
        }
        let service = EntitlementService(
            store: store, catalog: CatalogStore(database: context.database),
            sessions: HostManagerDirectory(
                addresses: configuration[Self.hostmgrs], clients: context.clients, logger: context.logger),
            redemptionEndpoints: endpoints)
        return ServiceParts(
            rpcServices: [service],
            interceptors: [APIKeyAuthenticator(policy: Self.accessPolicy, store: store, hasher: hasher)])
    }

    /// Operator methods for the `skyport` identity; every developer method public with API keys.
    public static var accessPolicy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.allow(["skyport"], toCall: Skyport_Entitlement_V1_EntitlementMethods.createDeveloper)
        policy.allow(["skyport"], toCall: Skyport_Entitlement_V1_EntitlementMethods.getDeveloper)
        policy.allow(["skyport"], toCall: Skyport_Entitlement_V1_EntitlementMethods.createAPIKey)
        policy.allow(["skyport"], toCall: Skyport_Entitlement_V1_EntitlementMethods.revokeAPIKey)
        for method in [
            Skyport_Entitlement_V1_EntitlementMethods.whoAmI,
            Skyport_Entitlement_V1_EntitlementMethods.registerApplication,
            Skyport_Entitlement_V1_EntitlementMethods.getApplication,
            Skyport_Entitlement_V1_EntitlementMethods.publishVersion,
            Skyport_Entitlement_V1_EntitlementMethods.rollOutVersion,
            Skyport_Entitlement_V1_EntitlementMethods.grantEntitlement,
            Skyport_Entitlement_V1_EntitlementMethods.revokeEntitlement,
            Skyport_Entitlement_V1_EntitlementMethods.listEntitlements,
            Skyport_Entitlement_V1_EntitlementMethods.requestSession,
        ] {
            policy.makePublic(method, authentication: .apiKey)
        }
        return policy
    }

    static func pepper(_ configuration: Configuration) throws -> [UInt8]? {
        guard let path = configuration[Self.apiKeyPepperFile] else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            case let pepper = text.trimmingCharacters(in: .whitespacesAndNewlines), pepper.utf8.count >= 16
        else {
            throw configuration.invalid(Self.apiKeyPepperFile, "\(path) must be readable and hold at least 16 bytes")
        }
        return Array(pepper.utf8)
    }
}
