public import Logging
public import Prometheus
public import ServiceLifecycle
public import SkyportConfig
import SkyportHTTP2

/// The Prometheus endpoint of a service: `GET /metrics` returns the registry in the text exposition
/// format, through a ``TextHTTPEndpoint`` (bearer token, limits). A swift-service-lifecycle `Service`:
/// it binds when run and closes on graceful shutdown or cancellation.
public final class MetricsEndpoint: Service, Sendable {
    private let address: HostAndPort
    private let hasToken: Bool
    private let endpoint: TextHTTPEndpoint
    private let logger: Logger
    private let bound = StartupGate()
    private let boundPort = LockedValue<Int?>(nil)

    /// Creates the endpoint; nothing listens until ``run()``.
    public init(address: HostAndPort, registry: PrometheusCollectorRegistry, token: String?, logger: Logger) {
        self.address = address
        self.hasToken = token != nil
        self.endpoint = TextHTTPEndpoint(
            host: address.host, port: address.port, path: "/metrics",
            contentType: "text/plain; version=0.0.4; charset=utf-8", token: token
        ) { registry.emitToBuffer() }
        self.logger = logger
    }

    /// The port bound, once ``run()`` has bound it.
    public func waitUntilBound() async throws -> Int {
        try await self.bound.wait()
        return self.boundPort.get() ?? 0
    }

    /// Serves until graceful shutdown or cancellation.
    public func run() async throws {
        if !self.hasToken && !["127.0.0.1", "::1", "localhost"].contains(self.address.host) {
            self.logger.warning(
                "metrics endpoint without a token on a non-loopback address; set metrics-token-file",
                metadata: ["address": "\(self.address)"])
        }
        let port: Int
        do {
            port = try await self.endpoint.bind()
        } catch {
            self.bound.fail(error)
            throw error
        }
        self.boundPort.set(port)
        self.bound.open()
        self.logger.info("metrics endpoint listening", metadata: ["address": "\(self.address.host):\(port)"])
        try? await gracefulShutdown()
        await self.endpoint.close()
    }
}
