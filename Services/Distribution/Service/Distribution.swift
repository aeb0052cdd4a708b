import SkyportProto
public import SkyportSecurity
public import SkyportService

/// The distribution service: the package catalogue (one package per app version) now; transfers to
/// hosts arrive in a later issue (`ScheduleTransfer` is UNIMPLEMENTED).
public enum Distribution {
    /// How `distribution` runs: port 7105, metrics 9105.
    public static let specification = ServiceSpecification(
        name: "distribution", defaultPort: 7105, defaultMetricsPort: 9105, migrations: DistributionStore.migrations,
        accessPolicy: Self.accessPolicy
    ) { context in
        ServiceParts(rpcServices: [DistributionService(store: DistributionStore(database: context.database))])
    }

    /// Entitlement registers packages (developer uploads); forecast, stream hosts and entitlement read.
    public static var accessPolicy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.allow(["entitlement", "skyport"], toCall: Skyport_Distribution_V1_DistributionMethods.registerPackage)
        policy.allow(
            ["forecast", "streamhost", "entitlement", "skyport"],
            toCall: Skyport_Distribution_V1_DistributionMethods.listPackages)
        policy.allow(["forecast", "skyport"], toCall: Skyport_Distribution_V1_DistributionMethods.scheduleTransfer)
        return policy
    }
}
