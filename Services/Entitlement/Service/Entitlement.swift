import Foundation
public import SkyportConfig
import SkyportProto
public import SkyportSecurity
public import SkyportService

/// The entitlement service, the developer integration endpoint: developer accounts and API keys now
/// (stored hashed, checked in constant time); the catalogue, entitlements and session requests arrive
/// with the sessions issue (`RequestSession` is UNIMPLEMENTED).
public enum Entitlement {
    /// A file holding a secret pepper: API keys are then stored as HMAC-SHA-256 instead of SHA-256, so
    /// a stolen database alone cannot be used to check guesses.
    public static let apiKeyPepperFile = ConfigKey<String?>(
        "api-key-pepper-file", help: "File holding a secret pepper for API-key hashes (HMAC-SHA-256).")

    /// How `entitlement` runs: port 7101, metrics 9101.
    public static let specification = ServiceSpecification(
        name: "entitlement", defaultPort: 7101, defaultMetricsPort: 9101, keys: [Self.apiKeyPepperFile],
        migrations: EntitlementStore.migrations, accessPolicy: Self.accessPolicy
    ) { context in
        let hasher = APIKeyHasher(pepper: try Self.pepper(context.configuration))
        let store = EntitlementStore(database: context.database, hasher: hasher)
        return ServiceParts(
            rpcServices: [EntitlementService(store: store)],
            interceptors: [APIKeyAuthenticator(policy: Self.accessPolicy, store: store, hasher: hasher)])
    }

    /// Operator methods for the `skyport` identity; developer methods public with API keys.
    public static var accessPolicy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.allow(["skyport"], toCall: Skyport_Entitlement_V1_EntitlementMethods.createDeveloper)
        policy.allow(["skyport"], toCall: Skyport_Entitlement_V1_EntitlementMethods.getDeveloper)
        policy.makePublic(Skyport_Entitlement_V1_EntitlementMethods.whoAmI, authentication: .apiKey)
        policy.makePublic(Skyport_Entitlement_V1_EntitlementMethods.requestSession, authentication: .apiKey)
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
