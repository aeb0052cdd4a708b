import SkyportProto
public import SkyportSecurity
public import SkyportService

/// The token-redemption node: keeps the data centres it may route to in its store. Redeeming tokens
/// arrives with the sessions issue (`Redeem` is UNIMPLEMENTED).
public enum Redemption {
    /// How `redemption` runs: port 7102, metrics 9102.
    public static let specification = ServiceSpecification(
        name: "redemption", defaultPort: 7102, defaultMetricsPort: 9102, migrations: RedemptionStore.migrations,
        accessPolicy: Self.accessPolicy
    ) { context in
        ServiceParts(rpcServices: [RedemptionService(store: RedemptionStore(database: context.database))])
    }

    /// `Redeem` is public (the token is the credential); data-centre administration is the operator's.
    public static var accessPolicy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.makePublic(Skyport_Redemption_V1_RedemptionMethods.redeem, authentication: .handler)
        policy.allow(["skyport"], toCall: Skyport_Redemption_V1_RedemptionMethods.upsertDataCentre)
        policy.allow(["skyport"], toCall: Skyport_Redemption_V1_RedemptionMethods.listDataCentres)
        return policy
    }
}
