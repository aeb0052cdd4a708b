public import SkyportConfig
import SkyportProto
public import SkyportSecurity
public import SkyportService

/// The stream host of one machine: keeps its identity and start count in its store and registers with
/// its data centre's host management (at start, then every `register-interval`). Provisioning arrives
/// with the sessions issue (`Provision` is UNIMPLEMENTED).
public enum StreamHost {
    /// Its data centre.
    public static let datacentre = ConfigKey<String>(
        "datacentre", default: "dc1", help: "The data centre of this host (must match its host management's).")
    /// Its host management.
    public static let hostmgr = ConfigKey<HostAndPort>.required(
        "hostmgr", help: "Address of this data centre's host management.")
    /// Where host management reaches this host; by default the listen address.
    public static let advertiseAddress = ConfigKey<HostAndPort?>(
        "advertise-address", help: "Address host management reaches this host at; default: the listen address.")
    /// Capacity.
    public static let slots = ConfigKey<Int>("slots", default: 4, help: "Concurrent session slots (at least 1).")
    /// Capacity.
    public static let cpuUnits = ConfigKey<Int>("cpu-units", default: 8, help: "Normalised CPU units.")
    /// Capacity.
    public static let memoryMiB = ConfigKey<Int>("memory-mib", default: 16_384, help: "Memory in MiB.")
    /// Capacity.
    public static let gpuScore = ConfigKey<Int>("gpu-score", default: 0, help: "GPU score (0: no GPU).")
    /// How often the registration is refreshed.
    public static let registerInterval = ConfigKey<Duration>(
        "register-interval", default: .seconds(30), help: "How often the host re-registers with host management.")

    /// How `streamhost` runs: port 7107, metrics 9107.
    public static let specification = ServiceSpecification(
        name: "streamhost", defaultPort: 7107, defaultMetricsPort: 9107,
        keys: [
            Self.datacentre, Self.hostmgr, Self.advertiseAddress, Self.slots, Self.cpuUnits, Self.memoryMiB,
            Self.gpuScore, Self.registerInterval,
        ],
        migrations: StreamHostStore.migrations, accessPolicy: Self.accessPolicy
    ) { context in
        let configuration = context.configuration
        let capacity = try Capacity(configuration: configuration)
        let store = StreamHostStore(database: context.database)
        let hostmgr = try Skyport_Hostmgr_V1_HostManagerClient(context.clients.client(for: "hostmgr", at: configuration[Self.hostmgr]))
        let advertised = try Self.advertisedAddress(configuration, listen: context.settings.listen)
        let registration = RegistrationLoop(
            store: store, hostmgr: hostmgr, capacity: capacity, advertiseAddress: advertised,
            interval: configuration[Self.registerInterval], logger: context.logger)
        return ServiceParts(
            rpcServices: [StreamHostService(store: store, capacity: capacity, advertiseAddress: advertised.configText)],
            background: [registration],
            prepare: { try await store.recordStart(now: ServiceSupport.nowUnixMilliseconds()) })
    }

    /// `advertise-address`, or the listen address when that is one host management can reach (not a
    /// wildcard like 0.0.0.0, not port 0).
    static func advertisedAddress(_ configuration: Configuration, listen: HostAndPort) throws(ConfigError)
        -> HostAndPort
    {
        if let address = configuration[Self.advertiseAddress] { return address }
        guard listen.port != 0, !["0.0.0.0", "::", "[::]"].contains(listen.host) else {
            throw configuration.invalid(
                Self.advertiseAddress, "required when listen is \(listen) (host management could not reach that)")
        }
        return listen
    }

    /// Host management and the operator read the status; only host management provisions.
    public static var accessPolicy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.allow(["hostmgr", "skyport"], toCall: Skyport_Streamhost_V1_StreamHostMethods.getStatus)
        policy.allow(["hostmgr"], toCall: Skyport_Streamhost_V1_StreamHostMethods.provision)
        return policy
    }
}

/// What a stream host offers, from its configuration.
struct Capacity: Sendable {
    var datacentre: String
    var slots: Int
    var cpuUnits: Int
    var memoryMiB: Int
    var gpuScore: Int

    init(configuration: Configuration) throws(ConfigError) {
        func check(_ key: ConfigKey<Int>, minimum: Int) throws(ConfigError) -> Int {
            let value = configuration[key]
            guard value >= minimum, value <= Int(UInt32.max) else {
                throw configuration.invalid(key, "must be between \(minimum) and \(UInt32.max)")
            }
            return value
        }
        self.datacentre = configuration[StreamHost.datacentre]
        do {
            try ServiceSupport.requireName(self.datacentre, field: StreamHost.datacentre.name)
        } catch {
            throw configuration.invalid(StreamHost.datacentre, error.status.message)
        }
        self.slots = try check(StreamHost.slots, minimum: 1)
        self.cpuUnits = try check(StreamHost.cpuUnits, minimum: 0)
        self.memoryMiB = try check(StreamHost.memoryMiB, minimum: 0)
        self.gpuScore = try check(StreamHost.gpuScore, minimum: 0)
    }
}
