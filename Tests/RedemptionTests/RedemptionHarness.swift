import Foundation
import Logging
import SkyportConfig
import SkyportHTTP2
import SkyportProto
import SkyportRPC
import SkyportSecurity
import SkyportService
import Synchronization
import Testing

@testable import RedemptionService

/// Log lines kept in memory.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])

    /// A logger writing logfmt lines here.
    func logger(service: String) -> Logger {
        Logger(label: service) { label in
            LogfmtLogHandler(service: service, label: label, level: .debug) { line in
                self.lines.withLock { $0.append(line) }
            }
        }
    }

    var all: [String] { self.lines.withLock { $0 } }
}

/// Two fake host managements (dc1 in Amsterdam, dc2 in Sydney: far enough apart that loopback latency
/// noise cannot change a located client's route) and a real redemption node, each a `ServiceRuntime`
/// on 127.0.0.1 port 0 over mutual TLS with a development CA.
struct RedemptionHarness {
    static let locations = "dc1=52.37/4.90/eu-west,dc2=-33.87/151.21/ap-southeast"
    /// Clients near dc2 (Sydney) and near dc1 (Amsterdam).
    static let nearDC2 = "198.51.100.7"
    static let nearDC1 = "203.0.113.9"
    static let prefixTable = """
        cidr,latitude,longitude,region,network_provider
        # test networks
        198.51.100.0/24,-33.9,151.2,ap-southeast,SydneyNet
        203.0.113.0/24,52.4,4.9,eu-west,AmsNet
        """

    let directory: String
    let dc1: FakeHostManager
    let dc2: FakeHostManager
    let node: ServiceRuntime
    let port: Int
    let logs: LogLines
    private let runtimes: [(ServiceRuntime, Task<Void, any Error>)]

    var tls: String { self.directory + "/tls" }

    /// The flags of a test service: its certificate, port 0, its own data directory.
    static func arguments(_ directory: String, service: String, data: String) -> [String] {
        let tls = directory + "/tls"
        return [
            "--tls-cert", "\(tls)/\(service).pem", "--tls-key", "\(tls)/\(service)-key.pem", "--tls-ca",
            "\(tls)/ca.pem",
            "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir", "\(directory)/\(data)",
            "--shutdown-grace", "1s",
        ]
    }

    /// A temporary directory with certificates for the node, host management and the operator.
    static func makeDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redemption-\(UUID().uuidString)")
            .path
        _ = try DevCertificateDirectory(directory: directory + "/tls").generate(
            services: ["redemption", "hostmgr", "skyport"])
        try Self.prefixTable.write(toFile: directory + "/prefixes.csv", atomically: true, encoding: .utf8)
        return directory
    }

    /// Host management as the fake serves it: what redemption nodes may call.
    static func hostmgrSpecification(_ fake: FakeHostManager) -> ServiceSpecification {
        var policy = MethodAccessPolicy()
        for method in [
            Skyport_Hostmgr_V1_HostManagerMethods.getCapacity, Skyport_Hostmgr_V1_HostManagerMethods.getTokenKeys,
            Skyport_Hostmgr_V1_HostManagerMethods.redeemSession,
        ] {
            policy.allow(["redemption"], toCall: method)
        }
        return ServiceSpecification(
            name: "hostmgr", defaultPort: 0, defaultMetricsPort: 0, migrations: [], accessPolicy: policy
        ) { _ in ServiceParts(rpcServices: [fake]) }
    }

    /// Starts everything, runs `body`, then shuts everything down and removes the directory.
    static func with(
        trustedProxies: String = "127.0.0.1/32", _ body: (RedemptionHarness) async throws -> Void
    ) async throws {
        let directory = try Self.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let claims = ClaimRegistry()
        let fakes = [
            try FakeHostManager(datacentre: "dc1", claims: claims),
            try FakeHostManager(datacentre: "dc2", claims: claims),
        ]
        var quiet = Logger(label: "hostmgr")
        quiet.logLevel = .critical
        var runtimes: [(ServiceRuntime, Task<Void, any Error>)] = []
        var ports: [Int] = []
        for fake in fakes {
            let specification = Self.hostmgrSpecification(fake)
            let configuration = try specification.configSchema.parse(
                arguments: Self.arguments(directory, service: "hostmgr", data: "data-\(fake.datacentre)"),
                environment: [:])
            let runtime = try await ServiceRuntime(
                specification: specification, configuration: configuration, logger: quiet)
            runtimes.append((runtime, Task { try await runtime.run() }))
            ports.append(try await runtime.waitUntilServing())
        }
        let logs = LogLines()
        let specification = Redemption.specification
        let configuration = try specification.configSchema.parse(
            arguments: Self.arguments(directory, service: "redemption", data: "data-node") + [
                "--hostmgrs", "dc1=127.0.0.1:\(ports[0]),dc2=127.0.0.1:\(ports[1])", "--datacentre-locations",
                Self.locations, "--prefix-table", directory + "/prefixes.csv", "--trusted-proxies", trustedProxies,
                "--probe-interval", "100ms",
            ], environment: [:])
        let node = try await ServiceRuntime(
            specification: specification, configuration: configuration, logger: logs.logger(service: "redemption"))
        runtimes.append((node, Task { try await node.run() }))
        let harness = RedemptionHarness(
            directory: directory, dc1: fakes[0], dc2: fakes[1], node: node, port: try await node.waitUntilServing(),
            logs: logs, runtimes: runtimes)
        do {
            try await body(harness)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    private func stop() async {
        for (runtime, task) in self.runtimes.reversed() {
            await runtime.triggerGracefulShutdown()
            _ = try? await task.value
        }
    }

    /// Runs `body` with a client of the node: `identity` `nil` is a caller without a certificate.
    func withClient<T>(
        as identity: String?, _ body: (Skyport_Redemption_V1_RedemptionClient) async throws -> T
    ) async throws -> T {
        var configuration = HTTP2ClientConfiguration()
        configuration.tls = ClientTLS(
            trustRootsPath: "\(self.tls)/ca.pem", certificateChainPath: identity.map { "\(self.tls)/\($0).pem" },
            privateKeyPath: identity.map { "\(self.tls)/\($0)-key.pem" })
        let transport = try HTTP2ClientTransport(
            host: "127.0.0.1", port: self.port, configuration: configuration, logger: Logger(label: "test"))
        do {
            let result = try await body(Skyport_Redemption_V1_RedemptionClient(RPCClient(transport: transport)))
            await transport.close()
            return result
        } catch {
            await transport.close()
            throw error
        }
    }

    /// The data centres as the operator lists them.
    func datacentres() async throws -> [String: Skyport_Redemption_V1_DataCentre] {
        try await self.withClient(as: "skyport") { client in
            Dictionary(
                uniqueKeysWithValues: try await client.listDataCentres(.init()).datacentres.map {
                    ($0.datacentreId, $0)
                })
        }
    }

    /// Waits (up to 30 s: the whole test run shares two cores) until the listed probe state satisfies
    /// `condition`. When it never does, the issue carries the node's probe log lines (why a data centre
    /// was down) as well as the last state.
    func waitForProbes(
        _ condition: ([String: Skyport_Redemption_V1_DataCentre]) -> Bool,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if condition(try await self.datacentres()) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        let probeLines = self.logs.all.filter { $0.contains("msg=\"data centre is") }
        Issue.record(
            "probe state never matched: \(try await self.datacentres())\nprobe log:\n\(probeLines.joined(separator: "\n"))",
            sourceLocation: sourceLocation)
        throw CancellationError()
    }

    /// Waits until both data centres are up with free slots.
    func waitUntilBothUp() async throws {
        try await self.waitForProbes { $0["dc1"]?.up == true && $0["dc2"]?.up == true && $0["dc2"]!.freeSlots > 0 }
    }

    /// The Prometheus text of the node's route counter for one data centre and reason (0 when absent).
    func routes(_ datacentre: String, _ reason: String) -> Int {
        let prefix = #"skyport_redemption_routes_total{datacentre="\#(datacentre)",reason="\#(reason)"} "#
        let line = self.node.registry.emitToString().split(separator: "\n").first { $0.hasPrefix(prefix) }
        return line.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
    }
}
