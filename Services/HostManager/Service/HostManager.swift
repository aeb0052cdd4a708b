public import SkyportConfig
import SkyportProto
import SkyportRPC
public import SkyportSecurity
public import SkyportService

/// Host management of one data centre: its stream hosts register here; it creates sessions with signed
/// one-time tokens, publishes its token keys and claims sessions exactly once. Placement and
/// provisioning come next.
public enum HostManager {
    /// The data centre this host management owns.
    public static let datacentre = ConfigKey<String>(
        "datacentre", default: "dc1", help: "The data centre this host management owns (a-z, 0-9, '-', '_').")

    /// How `hostmgr` runs: port 7103, metrics 9103.
    public static let specification = ServiceSpecification(
        name: "hostmgr", defaultPort: 7103, defaultMetricsPort: 9103, keys: [Self.datacentre],
        migrations: HostManagerMigrations.all, accessPolicy: Self.accessPolicy
    ) { context in
        let datacentre = context.configuration[Self.datacentre]
        do {
            try ServiceSupport.requireName(datacentre, field: Self.datacentre.name)
        } catch let error as RPCError {
            throw context.configuration.invalid(Self.datacentre, error.status.message)
        }
        let service = HostManagerService(database: context.database, datacentre: datacentre)
        return ServiceParts(
            rpcServices: [service],
            prepare: { try await service.keys.ensureCurrentKey(now: ServiceSupport.nowUnixMilliseconds()) })
    }

    /// Stream hosts register; entitlement, redemption nodes, peers and the operator list hosts.
    public static var accessPolicy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.allow(["streamhost"], toCall: Skyport_Hostmgr_V1_HostManagerMethods.registerHost)
        policy.allow(
            ["skyport", "entitlement", "redemption", "hostmgr"], toCall: Skyport_Hostmgr_V1_HostManagerMethods.listHosts
        )
        policy.allow(["entitlement"], toCall: Skyport_Hostmgr_V1_HostManagerMethods.createSession)
        policy.allow(["redemption", "hostmgr", "skyport"], toCall: Skyport_Hostmgr_V1_HostManagerMethods.getTokenKeys)
        policy.allow(["redemption", "hostmgr"], toCall: Skyport_Hostmgr_V1_HostManagerMethods.claimSession)
        return policy
    }
}
