public import Logging
public import SkyportHTTP2
public import SkyportRPC

/// A complete gRPC server: the HTTP/2 transport, the given services, and `grpc.health.v1.Health`
/// and server reflection (v1 and v1alpha), which every Skyport server serves.
///
/// Health reports SERVING for the server ("") and every service once started, and NOT_SERVING as
/// soon as shutdown begins, so load balancers stop sending before connections drain.
public final class GRPCServer: Sendable {
    /// Where and how to listen.
    public struct Configuration: Sendable {
        /// The address to bind, e.g. `0.0.0.0` or `127.0.0.1`.
        public var host: String
        /// The port; 0 picks a free one.
        public var port: Int
        /// TLS, or `nil` for cleartext h2c.
        public var tls: ServerTLS?
        /// Transport limits and timeouts.
        public var http2: HTTP2ServerConfiguration

        /// Creates a configuration.
        public init(
            host: String = "127.0.0.1", port: Int = 0, tls: ServerTLS? = nil,
            http2: HTTP2ServerConfiguration = .init()
        ) {
            self.host = host
            self.port = port
            self.tls = tls
            self.http2 = http2
        }
    }

    /// The health service, for callers that report their own services' health.
    public let health: HealthService
    private let configuration: Configuration
    private let transport: HTTP2Server
    private let serviceNames: [String]

    /// Creates a server for `services`; nothing listens until `start`.
    ///
    /// - Throws: `TLSError` when the TLS files cannot be loaded.
    public init(
        configuration: Configuration, services: [any RPCService],
        interceptors: [any ServerInterceptor] = [], logger: Logger
    ) throws {
        let health = HealthService()
        let applicationRouter = Router(services: services)
        let names = applicationRouter.serviceNames + HealthService.serviceNames + ReflectionService.serviceNames
        let reflection = ReflectionService(serviceNames: names.sorted())
        let router = Router(services: services + [health] + reflection.providers, interceptors: interceptors)
        self.health = health
        self.configuration = configuration
        self.serviceNames = applicationRouter.serviceNames
        self.transport = try HTTP2Server(
            router: router, configuration: configuration.http2, tls: configuration.tls, logger: logger)
    }

    /// Starts listening and marks every service SERVING.
    ///
    /// - Returns: the port bound.
    public func start() async throws -> Int {
        let port = try await self.transport.bind(host: self.configuration.host, port: self.configuration.port)
        self.health.setStatus(.serving, forService: "")
        for name in self.serviceNames { self.health.setStatus(.serving, forService: name) }
        return port
    }

    /// Graceful shutdown: health turns NOT_SERVING, then the transport stops accepting, sends GOAWAY
    /// and gives calls in flight `gracePeriod` (by default the configured one) to finish.
    public func shutdown(gracePeriod: Duration? = nil) async {
        self.health.enterShutdown()
        await self.transport.shutdown(gracePeriod: gracePeriod)
    }

    /// Waits until `shutdown` has finished.
    public func waitUntilStopped() async {
        await self.transport.waitUntilStopped()
    }
}
