import Foundation
public import SkyportConfig
import SkyportProto
public import SkyportSecurity
public import SkyportService
import Synchronization

/// The stream host of one machine: keeps its identity in its store, registers with its data centre's
/// host management and heartbeats, runs application instances from its installed packages, provisions
/// sessions on them, serves their clients on its client port (`SessionChannel`, TLS, no client
/// certificate) and reports instance and session events through a durable outbox.
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
    /// The heartbeat interval while host management names none.
    public static let heartbeatInterval = ConfigKey<Duration>(
        "heartbeat-interval", default: .seconds(60),
        help: "Heartbeat interval until host management names one (at least 1s).")
    /// Where packages are installed.
    public static let packagesDirectory = ConfigKey<String?>(
        "packages-dir",
        help: "Installed packages, <packages-dir>/<app>/<version>/manifest.json; default: <data-dir>/packages.")
    /// The client port.
    public static let clientListen = ConfigKey<HostAndPort>(
        "client-listen", default: HostAndPort(host: "0.0.0.0", port: 7127),
        help: "Where clients connect (SessionChannel over TLS, no client certificate).")
    /// What clients are told to connect to.
    public static let clientAdvertiseAddress = ConfigKey<HostAndPort?>(
        "client-advertise-address",
        help: "Address handed to clients; default: client-listen, or the advertised host with the client port.")
    /// How long instances get to save state when the host stops (and when a drained instance stops).
    public static let instanceStopGrace = ConfigKey<Duration>(
        "instance-stop-grace", default: .seconds(5),
        help: "Grace instances get at host shutdown or after draining, before SIGTERM (0s to 300s).")

    /// The name of the client port's listener (``ServiceRuntime/waitUntilServing(listener:)``).
    public static let clientListenerName = "client"

    /// How `streamhost` runs: port 7107, metrics 9107, clients on 7127.
    public static let specification = ServiceSpecification(
        name: "streamhost", defaultPort: 7107, defaultMetricsPort: 9107,
        keys: [
            Self.datacentre, Self.hostmgr, Self.advertiseAddress, Self.slots, Self.cpuUnits, Self.memoryMiB,
            Self.gpuScore, Self.registerInterval, Self.heartbeatInterval, Self.packagesDirectory, Self.clientListen,
            Self.clientAdvertiseAddress, Self.instanceStopGrace,
        ],
        migrations: StreamHostStore.migrations, accessPolicy: Self.accessPolicy
    ) { context in
        let configuration = context.configuration
        let capacity = try Capacity(configuration: configuration)
        let store = StreamHostStore(database: context.database)
        let hostmgr = try Skyport_Hostmgr_V1_HostManagerClient(
            context.clients.client(for: "hostmgr", at: configuration[Self.hostmgr]))
        let advertised = try Self.advertisedAddress(configuration, listen: context.settings.listen)
        let heartbeat = configuration[Self.heartbeatInterval]
        guard heartbeat >= .seconds(1) else {
            throw configuration.invalid(Self.heartbeatInterval, "must be at least 1s")
        }
        let stopGrace = configuration[Self.instanceStopGrace]
        guard stopGrace >= .zero, stopGrace <= .seconds(300) else {
            throw configuration.invalid(Self.instanceStopGrace, "must be between 0s and 300s")
        }
        let dataDirectory = Self.absolute(context.settings.dataDirectory)
        let packages = PackageCatalog(
            directory: Self.absolute(configuration[Self.packagesDirectory] ?? "\(dataDirectory)/packages"))
        let clientListen = configuration[Self.clientListen]
        let clientAddress = ClientAddress(
            configured: configuration[Self.clientAdvertiseAddress], listen: clientListen, advertised: advertised)

        let outbox = EventOutbox()
        let runtime = SessionRuntime(
            settings: .init(
                capacity: capacity, packages: packages, dataDirectory: dataDirectory, stopGrace: stopGrace),
            store: store, outbox: outbox, logger: context.logger)
        let registration = RegistrationLoop(
            store: store, hostmgr: hostmgr, capacity: capacity, packages: packages, runtime: runtime,
            advertiseAddress: advertised, interval: configuration[Self.registerInterval], heartbeatFallback: heartbeat,
            logger: context.logger)
        let delivery = EventOutbox.Delivery(outbox: outbox, store: store, hostmgr: hostmgr, logger: context.logger)
        let clients = PublicListener(
            name: Self.clientListenerName, address: clientListen,
            services: [SessionChannelService(runtime: runtime)], accessPolicy: SessionChannelService.accessPolicy,
            bound: { port in clientAddress.bound(port: port) })
        return ServiceParts(
            rpcServices: [
                StreamHostService(
                    store: store, capacity: capacity, advertiseAddress: advertised.configText, runtime: runtime,
                    clientAddress: { clientAddress.text })
            ],
            // Stopped in reverse: the runtime first (its instances' last events go to the outbox), then
            // registration, then delivery, which stores whatever is still queued.
            background: [delivery, registration, runtime],
            publicListeners: [clients],
            prepare: { try await store.recordStart(now: ServiceSupport.nowUnixMilliseconds()) })
    }

    /// `advertise-address`, or the listen address when that is one host management can reach (not a
    /// wildcard like 0.0.0.0, not port 0).
    static func advertisedAddress(_ configuration: Configuration, listen: HostAndPort) throws(ConfigError)
        -> HostAndPort
    {
        if let address = configuration[Self.advertiseAddress] { return address }
        guard listen.port != 0, !Self.isWildcard(listen.host) else {
            throw configuration.invalid(
                Self.advertiseAddress, "required when listen is \(listen) (host management could not reach that)")
        }
        return listen
    }

    static func isWildcard(_ host: String) -> Bool {
        ["0.0.0.0", "::", "[::]"].contains(host)
    }

    /// Children run in their package directory: every path handed to them must be absolute.
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// Host management and the operator read the status and the instances; only host management
    /// provisions, starts and stops.
    public static var accessPolicy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.allow(["hostmgr", "skyport"], toCall: Skyport_Streamhost_V1_StreamHostMethods.getStatus)
        policy.allow(["hostmgr", "skyport"], toCall: Skyport_Streamhost_V1_StreamHostMethods.listInstances)
        policy.allow(["hostmgr"], toCall: Skyport_Streamhost_V1_StreamHostMethods.provision)
        policy.allow(["hostmgr"], toCall: Skyport_Streamhost_V1_StreamHostMethods.startInstance)
        policy.allow(["hostmgr"], toCall: Skyport_Streamhost_V1_StreamHostMethods.stopInstance)
        return policy
    }
}

/// The address handed to clients: `client-advertise-address`; else `client-listen` when it names a
/// concrete host; else the host host management reaches this one at, with the client port. A port of 0
/// is replaced by the port bound.
final class ClientAddress: Sendable {
    private let address: Mutex<HostAndPort>

    init(configured: HostAndPort?, listen: HostAndPort, advertised: HostAndPort) {
        let host = StreamHost.isWildcard(listen.host) ? advertised.host : listen.host
        self.address = Mutex(configured ?? HostAndPort(host: host, port: listen.port))
    }

    func bound(port: Int) {
        self.address.withLock { address in
            if address.port == 0 { address = HostAndPort(host: address.host, port: port) }
        }
    }

    var text: String { self.address.withLock { $0.configText } }
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
