import Foundation
import Logging
import SkyportConfig
import SkyportHTTP2
import SkyportProto
import SkyportRPC
import SkyportService
import SkyportStorage
import SkyportTestSupport
import Testing

/// The whole runtime in one process, over real sockets and mutual TLS: start order, access control,
/// request ids, metrics, graceful shutdown.
@Suite(.serialized) struct ServiceRuntimeTests {
    /// A running echo-test service and what a test needs to talk to it.
    struct Running {
        let runtime: ServiceRuntime
        let port: Int
        let run: Task<Void, any Error>
        let fixture: CertificateFixture

        func client(as identity: String?) throws -> (RPCClient, HTTP2ClientTransport) {
            var configuration = HTTP2ClientConfiguration()
            configuration.tls = ClientTLS(
                trustRootsPath: "\(self.fixture.tls)/ca.pem",
                certificateChainPath: identity.map { "\(self.fixture.tls)/\($0).pem" },
                privateKeyPath: identity.map { "\(self.fixture.tls)/\($0)-key.pem" })
            let transport = try HTTP2ClientTransport(
                host: "127.0.0.1", port: self.port, configuration: configuration, logger: Logger(label: "test"))
            return (RPCClient(transport: transport), transport)
        }
    }

    static func start(
        _ fixture: CertificateFixture, logs: LogCollector,
        specification: ServiceSpecification = EchoTestService.specification()
    ) async throws -> Running {
        let configuration = try specification.configSchema.parse(arguments: fixture.arguments(), environment: [:])
        let runtime = try await ServiceRuntime(
            specification: specification, configuration: configuration, logger: logs.logger())
        let run = Task { try await runtime.run() }
        let port = try await runtime.waitUntilServing()
        return Running(runtime: runtime, port: port, run: run, fixture: fixture)
    }

    static func echo(_ client: RPCClient, _ message: String, metadata: Metadata = [:]) async throws -> ClientResponse<
        Echo_EchoResponse
    > {
        var request = Echo_EchoRequest()
        request.message = message
        return try await client.unary(Echo_EchoMethods.unary, request: request, metadata: metadata)
    }

    @Test func servesAllowedIdentitiesAndRefusesOthers() async throws {
        let fixture = try CertificateFixture()
        defer { fixture.remove() }
        let logs = LogCollector()
        let running = try await Self.start(fixture, logs: logs)

        let (operator_, operatorTransport) = try running.client(as: "skyport")
        let response = try await Self.echo(operator_, "hello", metadata: ["x-request-id": "req-42"])
        #expect(response.message.message == "hello")
        #expect(response.initialMetadata["x-request-id"] == "req-42")

        let (intruder, intruderTransport) = try running.client(as: "intruder")
        await #expect(throws: RPCError.self) { _ = try await Self.echo(intruder, "nope") }
        do {
            _ = try await Self.echo(intruder, "nope")
        } catch let error as RPCError {
            #expect(error.status.code == .permissionDenied)
        }
        let (anonymous, anonymousTransport) = try running.client(as: nil)
        do {
            _ = try await Self.echo(anonymous, "nope")
            Issue.record("a caller without a certificate was served")
        } catch let error as RPCError {
            #expect(error.status.code == .unauthenticated)
        }
        // Health stays public: no certificate needed.
        let health = Grpc_Health_V1_HealthClient(anonymous)
        #expect(try await health.check(Grpc_Health_V1_HealthCheckRequest()).status == .serving)

        // One line per finished call, with the caller's request id, never the metadata values.
        let lines = logs.all.filter { $0.contains("msg=\"call finished\"") }
        #expect(lines.contains { $0.contains("request_id=req-42") && $0.contains("code=OK") })
        #expect(lines.contains { $0.contains("code=PERMISSION_DENIED") })
        #expect(lines.contains { $0.contains("code=UNAUTHENTICATED") })

        // Prometheus text: counts by method and status, latency histogram, store timings.
        let metrics = running.runtime.registry.emitToString()
        #expect(metrics.contains(#"skyport_rpc_requests_total{method="/echo.Echo/Unary",code="OK"} 1"#))
        #expect(metrics.contains(#"skyport_rpc_errors_total{method="/echo.Echo/Unary",code="PERMISSION_DENIED"} 2"#))
        #expect(metrics.contains(#"skyport_rpc_duration_seconds_count{method="/echo.Echo/Unary"} 4"#))
        #expect(metrics.contains(#"skyport_store_transaction_duration_seconds_count{kind="write",outcome="ok"}"#))

        await operatorTransport.close()
        await intruderTransport.close()
        await anonymousTransport.close()
        await running.runtime.triggerGracefulShutdown()
        try await running.run.value
    }

    @Test func gracefulShutdownFinishesCallsInFlightThenClosesTheStore() async throws {
        let fixture = try CertificateFixture()
        defer { fixture.remove() }
        let logs = LogCollector()
        let running = try await Self.start(fixture, logs: logs)
        let (client, transport) = try running.client(as: "skyport")
        _ = try await Self.echo(client, "warm-up")

        let slow = Task { try await Self.echo(client, "sleep:700") }
        // In flight: a call the server has not yet seen when it stops listening would be refused.
        #expect(await eventually { running.runtime.registry.emitToString().contains("\nskyport_rpc_in_flight 1") })
        await running.runtime.triggerGracefulShutdown()
        // Health turns NOT_SERVING at once, before the drain ends.
        #expect(await eventually { running.runtime.server.health.status(forService: "") == .notServing })
        let response = try await slow.value
        #expect(response.message.message == "sleep:700")
        try await running.run.value
        // The store was closed after the server drained: the slow call's row is there, and the order of
        // events in the log is server stop, then store close.
        let order = logs.all.map { line -> String in
            if line.contains("msg=\"RPC server stopped\"") { return "server" }
            if line.contains("msg=\"store closed\"") { return "store" }
            return ""
        }.filter { !$0.isEmpty }
        #expect(order == ["server", "store"])
        let rows = try await Database.withDatabase(
            StorageConfiguration(url: "sqlite://\(fixture.directory)/data/echo-test.sqlite3"),
            logger: Logger(label: "check")
        ) { database in
            try await database.query("SELECT message FROM echoes ORDER BY message").map {
                try $0.decode(String.self, "message")
            }
        }
        #expect(rows == ["sleep:700", "warm-up"])
        await transport.close()
    }

    @Test func aFailedMigrationStopsTheStartWithTheError() async throws {
        let fixture = try CertificateFixture()
        defer { fixture.remove() }
        let broken = EchoTestService.specification(migrations: [
            Migration(version: 1, name: "broken", sql: ["CREATE TABLE"])
        ])
        let configuration = try broken.configSchema.parse(arguments: fixture.arguments(), environment: [:])
        let logs = LogCollector()
        let runtime = try await ServiceRuntime(
            specification: broken, configuration: configuration, logger: logs.logger())
        let run = Task { try await runtime.run() }
        // The store's own error, not a cancellation, and the server never bound.
        await #expect(throws: StorageError.self) { _ = try await runtime.waitUntilServing() }
        await #expect(throws: StorageError.self) { try await run.value }
        #expect(!logs.all.contains { $0.contains("msg=serving") })
        #expect(logs.all.contains { $0.contains("msg=listening") } == false)
    }
}
