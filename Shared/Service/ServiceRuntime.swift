import Foundation
public import Logging
import Metrics
public import Prometheus
import ServiceLifecycle
public import UnixSignals
public import SkyportConfig
import SkyportHTTP2
import SkyportInterop
import SkyportRPC
import SkyportSecurity
public import SkyportServer
public import SkyportStorage
import Synchronization

/// One running Skyport service: its store, RPC server, Prometheus endpoint and background loops in a
/// swift-service-lifecycle `ServiceGroup`, in dependency order.
///
/// Start: the store opens and migrates; then the RPC server binds (mutual TLS, health SERVING,
/// reflection) and the metrics endpoint; then the background loops run. Graceful shutdown (SIGTERM or
/// SIGINT in ``ServiceRunner``, or ``triggerGracefulShutdown()``) runs in reverse: the loops stop,
/// health turns NOT_SERVING, the server sends GOAWAY and gives calls in flight the grace period, the
/// metrics endpoint closes, and the store closes last.
///
/// A service may add ``PublicListener``s (a stream host's client port): further servers with the service's
/// certificate and no client certificate asked for, which drain after the loops and before the RPC server.
///
/// Every call passes ``CallObserver`` (request id, log line, metrics), then the identity check of the
/// specification's ``MethodAccessPolicy`` (PERMISSION_DENIED / UNAUTHENTICATED), then the service's
/// own interceptors.
public final class ServiceRuntime: Sendable {
    /// The specification this runtime runs.
    public let specification: ServiceSpecification
    /// The validated common settings.
    public let settings: CommonSettings
    /// The Prometheus registry every metric of this service goes to.
    public let registry: PrometheusCollectorRegistry
    /// The RPC server (health included).
    public let server: GRPCServer
    /// The service's store.
    public let database: Database
    /// Clients to other services (closed at shutdown).
    public let clients: ServiceClients
    /// The metrics endpoint.
    public let metricsEndpoint: MetricsEndpoint
    private let group: ServiceGroup
    private let serving: StartupGate
    private let boundPort: LockedValue<Int?>
    private let listenerGates: [String: (serving: StartupGate, port: LockedValue<Int?>)]

    /// Builds the service from its specification and parsed configuration. Nothing runs until ``run()``.
    ///
    /// - Parameters:
    ///   - signals: the signals that start a graceful shutdown (none in tests, which call
    ///     ``triggerGracefulShutdown()``).
    /// - Throws: `ConfigError` (a bad common setting), `StorageError` (a bad store URL or SQLite file),
    ///   `TLSError` (unreadable certificates), or what the specification's `makeParts` throws.
    ///   - settings: the common settings when the caller has read them already (``ServiceRunner`` does,
    ///     for the log level); read from `configuration` otherwise.
    public init(
        specification: ServiceSpecification, configuration: Configuration, settings: CommonSettings? = nil,
        logger: Logger, signals: [UnixSignal] = []
    ) async throws {
        let settings = try settings ?? CommonSettings(configuration: configuration, specification: specification)
        let registry = PrometheusCollectorRegistry()
        let metrics = PrometheusMetricsFactory(registry: registry)
        try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
        var storage = try StorageConfiguration(url: settings.databaseURL)
        if let password = settings.databasePassword { storage = storage.withPassword(password) }
        let database = try Database(configuration: storage, logger: logger, metrics: metrics)
        let clients = ServiceClients(tls: settings.tls, logger: logger)
        // The parts are built now, before the store runs: they may keep the database, but only use it in
        // handlers, background loops and `prepare`, which all run after the migrations.
        let parts = try await specification.makeParts(
            ServiceContext(
                configuration: configuration, settings: settings, database: database, logger: logger, clients: clients,
                metrics: metrics))

        let tls = ServerTLS(
            configuration: .server(
                certificateChain: .file(settings.tls.certificate), privateKey: .file(settings.tls.key),
                trustRoots: .file(settings.tls.ca), requireClientCertificate: false))
        var http2 = HTTP2ServerConfiguration()
        http2.shutdownGracePeriod = settings.shutdownGrace
        let interceptors: [any ServerInterceptor] =
            [
                CallObserver(logger: logger, metrics: metrics),
                IdentityAuthorizationInterceptor(policy: specification.accessPolicy),
            ] + parts.interceptors
        let server = try GRPCServer(
            configuration: .init(host: settings.listen.host, port: settings.listen.port, tls: tls, http2: http2),
            services: parts.rpcServices, interceptors: interceptors, logger: logger)
        let metricsEndpoint = MetricsEndpoint(
            address: settings.metricsListen, registry: registry, token: settings.metricsToken, logger: logger)

        let storeReady = StartupGate()
        let boundPort = LockedValue<Int?>(nil)
        let serving = StartupGate()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(
                service: StoreService(
                    database: database, migrations: specification.migrations, prepare: parts.prepare, ready: storeReady,
                    logger: logger)),
            // Anything but the store ending (or failing) shuts the group down in order rather than
            // cancelling it, so the RPC server still drains before the store closes.
            .init(
                service: ClientsCloser(clients: clients), successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(
                service: metricsEndpoint, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(
                service: RPCServerService(
                    server: server, host: settings.listen.host, grace: settings.shutdownGrace, storeReady: storeReady,
                    serving: serving,
                    boundPort: { port in boundPort.set(port) }, logger: logger),
                // The server returning (after its drain) ends the service: shut the rest down too.
                successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup),
        ]
        // Public listeners come after the RPC server, so they drain after the background loops (which
        // may still be ending what their callers use) and before the server and the store.
        var listenerGates: [String: (serving: StartupGate, port: LockedValue<Int?>)] = [:]
        for listener in parts.publicListeners {
            let listenerServer = try GRPCServer(
                configuration: .init(
                    host: listener.address.host, port: listener.address.port,
                    tls: ServerTLS(certificateChainPath: settings.tls.certificate, privateKeyPath: settings.tls.key),
                    http2: http2),
                services: listener.services,
                interceptors: [
                    CallObserver(logger: logger, metrics: metrics),
                    IdentityAuthorizationInterceptor(policy: listener.accessPolicy),
                ], logger: logger)
            let gate = (serving: StartupGate(), port: LockedValue<Int?>(nil))
            var listenerLogger = logger
            listenerLogger[metadataKey: "listener"] = "\(listener.name)"
            listenerGates[listener.name] = gate
            services.append(
                .init(
                    service: RPCServerService(
                        server: listenerServer, host: listener.address.host, grace: settings.shutdownGrace,
                        storeReady: storeReady, serving: gate.serving,
                        boundPort: { port in
                            gate.port.set(port)
                            listener.bound(port)
                        }, logger: listenerLogger),
                    successTerminationBehavior: .gracefullyShutdownGroup,
                    failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        services += parts.background.map {
            .init(
                service: AfterServing(serving: serving, service: $0),
                successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        var groupConfiguration = ServiceGroupConfiguration(services: services, logger: logger)
        groupConfiguration.gracefulShutdownSignals = signals
        groupConfiguration.cancellationSignals = []
        // Beyond the RPC grace period, give the store and loops a few seconds, then cancel.
        groupConfiguration.maximumGracefulShutdownDuration = settings.shutdownGrace + .seconds(10)

        self.specification = specification
        self.settings = settings
        self.registry = registry
        self.server = server
        self.database = database
        self.clients = clients
        self.metricsEndpoint = metricsEndpoint
        self.group = ServiceGroup(configuration: groupConfiguration)
        self.serving = serving
        self.boundPort = boundPort
        self.listenerGates = listenerGates
    }

    /// Runs the group until it has shut down.
    public func run() async throws {
        try await self.group.run()
    }

    /// Waits until the RPC server serves and returns its port.
    ///
    /// - Throws: the error that stopped the start (a failed migration, a port in use), or
    ///   `CancellationError` when the service shut down first.
    public func waitUntilServing() async throws -> Int {
        try await self.serving.wait()
        return self.boundPort.get() ?? 0
    }

    /// Waits until the public listener `name` (see ``PublicListener``) serves and returns its port.
    ///
    /// - Returns: the port, or `nil` when the service has no listener of that name.
    /// - Throws: the error that stopped it, or `CancellationError` when the service shut down first.
    public func waitUntilServing(listener name: String) async throws -> Int? {
        guard let gate = self.listenerGates[name] else { return nil }
        try await gate.serving.wait()
        return gate.port.get() ?? 0
    }

    /// Starts a graceful shutdown, as SIGTERM does.
    public func triggerGracefulShutdown() async {
        await self.group.triggerGracefulShutdown()
    }
}
