import SkyportProto
public import SkyportSecurity
public import SkyportService

/// The forecast service: demand history per app × region × network provider × hour now; forecasts
/// and host picks arrive in a later issue (`GetForecast` is UNIMPLEMENTED).
public enum Forecast {
    /// How `forecast` runs: port 7104, metrics 9104.
    public static let specification = ServiceSpecification(
        name: "forecast", defaultPort: 7104, defaultMetricsPort: 9104, migrations: ForecastStore.migrations,
        accessPolicy: Self.accessPolicy
    ) { context in
        ServiceParts(rpcServices: [ForecastService(store: ForecastStore(database: context.database))])
    }

    /// Host management reports demand; entitlement, host management and the operator read it.
    public static var accessPolicy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.allow(["hostmgr", "skyport"], toCall: Skyport_Forecast_V1_ForecastMethods.recordDemand)
        policy.allow(["hostmgr", "entitlement", "skyport"], toCall: Skyport_Forecast_V1_ForecastMethods.getDemand)
        policy.allow(["hostmgr", "skyport"], toCall: Skyport_Forecast_V1_ForecastMethods.getForecast)
        return policy
    }
}
