public import SkyportConfig
import SkyportProto
import SkyportRPC
public import SkyportSecurity
public import SkyportService

/// Host management of one data centre: its stream hosts register and heartbeat here; it creates
/// sessions with signed one-time tokens, claims them exactly once, places and provisions them, keeps
/// the buffer pool, rolls out versions and keeps users' saved state. Configuration: `datacentre`,
/// `heartbeat-interval`, `connect-within`, `peers`, `peer-interval`, `maintenance-interval`.
public enum HostManager {
    /// The data centre this host management owns.
    public static let datacentre = ConfigKey<String>(
        "datacentre", default: "dc1", help: "The data centre this host management owns (a-z, 0-9, '-', '_').")

    /// How often hosts heartbeat.
    public static let heartbeatInterval = ConfigKey<Duration>(
        "heartbeat-interval", default: .seconds(60),
        help: "How often stream hosts heartbeat (at least 1s); a host silent for 3 intervals is lost.")
    /// How long a client has to connect after redeeming.
    public static let connectWithin = ConfigKey<Duration>(
        "connect-within", default: .seconds(30),
        help: "How long a client has to connect to its host after redeeming (1s to 600s).")
    /// The peer host managements.
    public static let peers = ConfigKey<String>(
        "peers", default: "", help: "Peer host managements: dc2=host:port,dc3=host:port (empty: none).")
    /// How often peers' capacity is fetched.
    public static let peerInterval = ConfigKey<Duration>(
        "peer-interval", default: .seconds(5), help: "How often the peers' capacity summaries are fetched.")
    /// How often the maintenance loop runs.
    public static let maintenanceInterval = ConfigKey<Duration>(
        "maintenance-interval", default: .seconds(1),
        help: "How often lost hosts, version drains and the buffer pool are checked.")

    /// Buffer-pool targets set at start.
    public static let bufferTargets = ConfigKey<String>(
        "buffer-targets", default: "",
        help: "Warm idle instances to keep, set at start: app/version=N,... (SetBufferTarget changes them later).")

    /// How `hostmgr` runs: port 7103, metrics 9103.
    public static let specification = ServiceSpecification(
        name: "hostmgr", defaultPort: 7103, defaultMetricsPort: 9103,
        keys: [
            Self.datacentre, Self.heartbeatInterval, Self.connectWithin, Self.peers, Self.peerInterval,
            Self.maintenanceInterval, Self.bufferTargets,
        ],
        migrations: HostManagerMigrations.all, accessPolicy: Self.accessPolicy
    ) { context in
        let configuration = context.configuration
        var settings = HostManagerService.Settings(datacentre: configuration[Self.datacentre])
        do {
            try ServiceSupport.requireName(settings.datacentre, field: Self.datacentre.name)
        } catch let error as RPCError {
            throw configuration.invalid(Self.datacentre, error.status.message)
        }
        settings.heartbeatInterval = configuration[Self.heartbeatInterval]
        guard settings.heartbeatInterval >= .seconds(1), settings.heartbeatInterval <= .seconds(3600) else {
            throw configuration.invalid(Self.heartbeatInterval, "must be 1s to 1h")
        }
        settings.connectWithin = configuration[Self.connectWithin]
        guard settings.connectWithin >= .seconds(1), settings.connectWithin <= .seconds(600) else {
            throw configuration.invalid(Self.connectWithin, "must be 1s to 600s")
        }
        var peers = DatacentreAddresses([])
        if !configuration[Self.peers].isEmpty {
            guard let parsed = DatacentreAddresses.parse(configText: configuration[Self.peers]) else {
                throw configuration.invalid(Self.peers, "expected \(DatacentreAddresses.expectation)")
            }
            guard parsed[settings.datacentre] == nil else {
                throw configuration.invalid(Self.peers, "lists this host management's own data centre")
            }
            peers = parsed
        }
        guard let targets = Self.parseBufferTargets(configuration[Self.bufferTargets]) else {
            throw configuration.invalid(Self.bufferTargets, "expected app/version=N,... with N from 0 to 64")
        }
        for key in [Self.peerInterval, Self.maintenanceInterval] {
            guard configuration[key] >= .milliseconds(100) else {
                throw configuration.invalid(key, "must be at least 100ms")
            }
        }
        let service = HostManagerService(
            database: context.database, settings: settings,
            links: ServiceHostManagerLinks(peers: peers, clients: context.clients),
            metrics: HostManagerMetrics(factory: context.metrics), logger: context.logger)
        return ServiceParts(
            rpcServices: [service],
            background: [
                MaintenanceLoop(service: service, tick: configuration[Self.maintenanceInterval]),
                PeerExchange(service: service, interval: configuration[Self.peerInterval]),
            ],
            prepare: {
                try await service.keys.ensureCurrentKey(now: ServiceSupport.nowUnixMilliseconds())
                for target in targets { try await service.catalog.setTarget(target) }
            })
    }

    /// `app/version=N,…` as targets; `nil` when an entry is malformed.
    static func parseBufferTargets(_ text: String) -> [AppCatalogStore.Target]? {
        var targets: [AppCatalogStore.Target] = []
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let count = Int64(parts[1]), (0...64).contains(count) else { return nil }
            let ids = parts[0].split(separator: "/", omittingEmptySubsequences: false)
            guard ids.count == 2, !ids[0].isEmpty, !ids[1].isEmpty else { return nil }
            targets.append(AppCatalogStore.Target(appID: String(ids[0]), versionID: String(ids[1]), target: count))
        }
        return targets
    }

    /// Who may call what; see the service comment in `Proto/hostmgr/v1/hostmgr.proto`.
    public static var accessPolicy: MethodAccessPolicy {
        typealias Methods = Skyport_Hostmgr_V1_HostManagerMethods
        var policy = MethodAccessPolicy()
        for method in [Methods.registerHost, Methods.heartbeat, Methods.reportEvents] {
            policy.allow(["streamhost"], toCall: method)
        }
        policy.allow(["skyport", "entitlement", "redemption", "hostmgr"], toCall: Methods.listHosts)
        policy.allow(["entitlement"], toCall: Methods.createSession)
        policy.allow(["entitlement", "skyport"], toCall: Methods.deployVersion)
        policy.allow(["redemption", "hostmgr", "skyport"], toCall: Methods.getTokenKeys)
        policy.allow(["redemption", "hostmgr"], toCall: Methods.claimSession)
        policy.allow(["hostmgr"], toCall: Methods.releaseClaim)
        policy.allow(["redemption"], toCall: Methods.redeemSession)
        policy.allow(["hostmgr"], toCall: Methods.placeSession)
        policy.allow(["hostmgr"], toCall: Methods.saveSessionState)
        policy.allow(["redemption", "hostmgr", "skyport"], toCall: Methods.getCapacity)
        policy.allow(["skyport"], toCall: Methods.setBufferTarget)
        policy.allow(["skyport"], toCall: Methods.listBufferTargets)
        policy.allow(["skyport"], toCall: Methods.listSessions)
        return policy
    }
}
