public import SkyportConfig
import SkyportProto
public import SkyportSecurity
public import SkyportService

/// The token-redemption node: verifies session tokens locally, ranks the data centres for each client
/// (location from the prefix table, measured latency, health, spare capacity), and forwards the
/// redemption to the best data centre's host management. Reads the keys below besides the common ones.
public enum Redemption {
    /// The host management of each data centre (also seeded into the store at start).
    public static let hostmgrs = ConfigKey<DatacentreAddresses>(
        "hostmgrs",
        default: DatacentreAddresses([
            ("dc1", HostAndPort(host: "127.0.0.1", port: 7103)), ("dc2", HostAndPort(host: "127.0.0.1", port: 7113)),
        ]),
        help: "Host management per data centre: dc1=host:port,dc2=host:port.")
    /// Where each data centre of `hostmgrs` is.
    public static let datacentreLocations = ConfigKey<DatacentreLocations>(
        "datacentre-locations",
        default: DatacentreLocations([
            ("dc1", .init(latitude: 52.37, longitude: 4.90, region: "eu-west")),
            ("dc2", .init(latitude: 50.11, longitude: 8.68, region: "eu-central")),
        ]),
        help: "Location of each data centre: dc1=latitude/longitude/region,dc2=... (degrees).")
    /// Where client addresses are.
    public static let prefixTable = ConfigKey<String?>(
        "prefix-table",
        help: "CSV file cidr,latitude,longitude,region,network_provider locating clients (longest prefix wins).")
    /// Who may state the client's address.
    public static let trustedProxies = ConfigKey<TrustedProxies?>(
        "trusted-proxies",
        help: "Comma-separated CIDRs of proxies whose x-forwarded-for names the client (default: none).")
    /// How often data centres are probed.
    public static let probeInterval = ConfigKey<Duration>(
        "probe-interval", default: .seconds(2), help: "How often each host management is probed (at least 100ms).")

    /// The shortest probe interval accepted.
    public static let minimumProbeInterval: Duration = .milliseconds(100)

    /// How `redemption` runs: port 7102, metrics 9102.
    public static let specification = ServiceSpecification(
        name: "redemption", defaultPort: 7102, defaultMetricsPort: 9102,
        keys: [Self.hostmgrs, Self.datacentreLocations, Self.prefixTable, Self.trustedProxies, Self.probeInterval],
        migrations: RedemptionStore.migrations, accessPolicy: Self.accessPolicy
    ) { context in
        let configuration = context.configuration
        let seeds = try Self.seeds(configuration)
        let interval = configuration[Self.probeInterval]
        guard interval >= Self.minimumProbeInterval else {
            throw configuration.invalid(Self.probeInterval, "must be at least 100ms")
        }
        var table = PrefixTable()
        if let path = configuration[Self.prefixTable] {
            do throws(PrefixTableError) {
                table = try PrefixTable(contentsOfFile: path)
            } catch {
                throw configuration.invalid(Self.prefixTable, error.description)
            }
            context.logger.info("prefix table loaded", metadata: ["path": "\(path)", "prefixes": "\(table.count)"])
        }
        let store = RedemptionStore(database: context.database)
        let directory = DataCentreDirectory()
        let connector = MutualTLSHostManagers(clients: context.clients)
        let service = RedemptionService(
            store: store, directory: directory, prefixTable: table,
            trustedProxies: configuration[Self.trustedProxies] ?? TrustedProxies([]), connector: connector,
            metrics: RouteMetrics(factory: context.metrics), logger: context.logger)
        let probes = ProbeLoop(
            store: store, directory: directory, connector: connector, interval: interval, logger: context.logger)
        return ServiceParts(
            rpcServices: [service], background: [probes],
            prepare: {
                let now = ServiceSupport.nowUnixMilliseconds()
                for var seed in seeds {
                    seed.updatedAtMilliseconds = now
                    try await store.upsert(seed)
                }
                directory.replaceRows(try await store.all())
            })
    }

    /// The configured data centres: `hostmgrs` with their `datacentre-locations`.
    static func seeds(_ configuration: Configuration) throws(ConfigError) -> [RedemptionStore.DataCentre] {
        let addresses = configuration[Self.hostmgrs]
        let locations = configuration[Self.datacentreLocations]
        var seeds: [RedemptionStore.DataCentre] = []
        for (datacentre, address) in addresses.entries {
            do {
                try ServiceSupport.requireName(datacentre, field: "data centre \(datacentre.prefix(64))")
                try ServiceSupport.requireAddress(address.configText, field: "the address of \(datacentre)")
            } catch {
                throw configuration.invalid(Self.hostmgrs, error.message)
            }
            guard let location = locations[datacentre] else {
                throw configuration.invalid(
                    Self.datacentreLocations, "has no location for \(datacentre) (hostmgrs lists it)")
            }
            do {
                try ServiceSupport.requireText(location.region, field: "the region of \(datacentre)", maxLength: 64)
            } catch {
                throw configuration.invalid(Self.datacentreLocations, error.message)
            }
            seeds.append(
                RedemptionStore.DataCentre(
                    id: datacentre, hostmgrAddress: address.configText, latitude: location.latitude,
                    longitude: location.longitude, region: location.region, updatedAtMilliseconds: 0))
        }
        return seeds
    }

    /// `Redeem` is public and authenticated by the handler (the token is the credential, no API key);
    /// data-centre administration and route explanations are the operator's.
    public static var accessPolicy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.makePublic(Skyport_Redemption_V1_RedemptionMethods.redeem, authentication: .handler)
        policy.allow(["skyport"], toCall: Skyport_Redemption_V1_RedemptionMethods.upsertDataCentre)
        policy.allow(["skyport"], toCall: Skyport_Redemption_V1_RedemptionMethods.listDataCentres)
        policy.allow(["skyport"], toCall: Skyport_Redemption_V1_RedemptionMethods.explainRoute)
        return policy
    }
}
