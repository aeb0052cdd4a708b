public import Logging
public import Metrics
public import SkyportConfig
public import SkyportRPC
public import SkyportSecurity
public import SkyportStorage
public import ServiceLifecycle

/// Everything that makes one Skyport service different from the others; ``ServiceRunner`` does the
/// rest (configuration, logs, metrics, mutual TLS, store, RPC server, signals) the same way for all.
///
/// ```swift
/// public enum Billing {
///     public static let specification = ServiceSpecification(
///         name: "billing", defaultPort: 7106, defaultMetricsPort: 9106,
///         migrations: BillingStore.migrations, accessPolicy: BillingService.accessPolicy
///     ) { context in
///         ServiceParts(rpcServices: [BillingService(store: BillingStore(database: context.database))])
///     }
/// }
/// ```
public struct ServiceSpecification: Sendable {
    /// The executable and configuration name, e.g. `billing`: flags are `--<key>`, environment
    /// variables `SKYPORT_BILLING_<KEY>`, the SQLite file `<data-dir>/billing.sqlite3`.
    public var name: String
    /// The gRPC port of the default `listen` address (`127.0.0.1:<port>`).
    public var defaultPort: Int
    /// The port of the default `metrics-listen` address.
    public var defaultMetricsPort: Int
    /// Configuration keys of this service beyond the common ones (``CommonSettings/keys``).
    public var keys: [any AnyConfigKey]
    /// The service's migrations, applied in order at start; released ones are never edited.
    public var migrations: [Migration]
    /// Which identities may call which method; methods without a rule are refused.
    public var accessPolicy: MethodAccessPolicy
    /// Builds the service's parts once its store is migrated.
    public var makeParts: @Sendable (ServiceContext) async throws -> ServiceParts

    /// Creates a specification.
    public init(
        name: String, defaultPort: Int, defaultMetricsPort: Int, keys: [any AnyConfigKey] = [],
        migrations: [Migration], accessPolicy: MethodAccessPolicy,
        makeParts: @escaping @Sendable (ServiceContext) async throws -> ServiceParts
    ) {
        self.name = name
        self.defaultPort = defaultPort
        self.defaultMetricsPort = defaultMetricsPort
        self.keys = keys
        self.migrations = migrations
        self.accessPolicy = accessPolicy
        self.makeParts = makeParts
    }

    /// The configuration schema: the common keys, then the service's own.
    public var configSchema: ConfigSchema {
        ConfigSchema(
            service: self.name,
            keys: CommonSettings.keys(defaultPort: self.defaultPort, defaultMetricsPort: self.defaultMetricsPort)
                + self.keys)
    }
}

/// What a service's ``ServiceSpecification/makeParts`` gets to build its parts from.
public struct ServiceContext: Sendable {
    /// The parsed configuration (common keys and the service's own).
    public var configuration: Configuration
    /// The validated common settings.
    public var settings: CommonSettings
    /// The service's store, migrated.
    public var database: Database
    /// The service's logger.
    public var logger: Logger
    /// Clients to other Skyport services, over mutual TLS with this service's certificate.
    public var clients: ServiceClients
    /// Where the service's own metrics go (served on the metrics endpoint).
    public var metrics: any MetricsFactory
}

/// The running parts of a service.
public struct ServiceParts: Sendable {
    /// The service's RPC services; health and reflection are added by the server.
    public var rpcServices: [any RPCService]
    /// Extra interceptors after access control (e.g. an ``APIKeyAuthenticator``).
    public var interceptors: [any ServerInterceptor]
    /// Background loops, started after the RPC server and stopped before it (and before the public
    /// listeners).
    public var background: [any Service]
    /// Further servers for callers outside the internal CA, each on its own address.
    public var publicListeners: [PublicListener]
    /// Start-up work on the migrated store before the RPC server binds (e.g. a host recording its
    /// start); a failure stops the start.
    public var prepare: (@Sendable () async throws -> Void)?

    /// Creates the parts.
    public init(
        rpcServices: [any RPCService], interceptors: [any ServerInterceptor] = [], background: [any Service] = [],
        publicListeners: [PublicListener] = [], prepare: (@Sendable () async throws -> Void)? = nil
    ) {
        self.rpcServices = rpcServices
        self.interceptors = interceptors
        self.background = background
        self.publicListeners = publicListeners
        self.prepare = prepare
    }
}
