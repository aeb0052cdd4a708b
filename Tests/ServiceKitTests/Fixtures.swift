import Foundation
import Logging
import SkyportConfig
import SkyportProto
import SkyportRPC
import SkyportSecurity
import SkyportService
import SkyportStorage
import Synchronization

/// A temporary directory with a development CA and certificates for `echo-test`, `skyport` and
/// `intruder`, removed by `remove()`.
struct CertificateFixture {
    let directory: String
    var tls: String { self.directory + "/tls" }

    init() throws {
        self.directory =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "skyport-kit-\(UUID().uuidString)"
            ).path
        _ = try DevCertificateDirectory(directory: self.directory + "/tls").generate(
            services: ["echo-test", "skyport", "intruder"])
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// The flags every test service gets: its TLS files, ports chosen by the kernel, a data directory.
    func arguments(service: String = "echo-test") -> [String] {
        [
            "--tls-cert", "\(self.tls)/\(service).pem", "--tls-key", "\(self.tls)/\(service)-key.pem", "--tls-ca",
            "\(self.tls)/ca.pem", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir",
            "\(self.directory)/data", "--shutdown-grace", "5s",
        ]
    }
}

/// `echo.Echo` whose request message `sleep:<ms>` makes the handler sleep first.
struct SlowEchoService: Echo_EchoProvider {
    let database: Database

    func unary(_ request: Echo_EchoRequest, context: ServerContext) async throws -> Echo_EchoResponse {
        if request.message.hasPrefix("sleep:"), let milliseconds = Int(request.message.dropFirst(6)) {
            try await Task.sleep(for: .milliseconds(milliseconds))
        }
        // A real store round trip per call, so store metrics and the store's lifetime are exercised.
        try await self.database.execute("INSERT INTO echoes (message) VALUES (?)", [request.message])
        var response = Echo_EchoResponse()
        response.message = request.message
        response.id = request.id
        return response
    }
}

enum EchoTestService {
    static let migrations = [
        Migration(version: 1, name: "echoes", sql: ["CREATE TABLE echoes (message TEXT NOT NULL)"])
    ]

    /// `echo-test`: Echo/Unary callable by the `skyport` identity only.
    static func specification(migrations: [Migration] = Self.migrations) -> ServiceSpecification {
        var policy = MethodAccessPolicy()
        policy.allow(["skyport"], toCall: Echo_EchoMethods.unary)
        return ServiceSpecification(
            name: "echo-test", defaultPort: 0, defaultMetricsPort: 0, migrations: migrations, accessPolicy: policy
        ) { context in
            ServiceParts(rpcServices: [SlowEchoService(database: context.database)])
        }
    }
}

/// Collects log lines in memory.
final class LogCollector: Sendable {
    private let lines = LockedLines()

    func handler(service: String, label: String) -> LogfmtLogHandler {
        let lines = self.lines
        return LogfmtLogHandler(service: service, label: label, level: .debug) { lines.append($0) }
    }

    func logger(service: String = "echo-test") -> Logger {
        Logger(label: service) { label in self.handler(service: service, label: label) }
    }

    var all: [String] { self.lines.all }
}

final class LockedLines: Sendable {
    private let values = Mutex<[String]>([])

    func append(_ line: String) {
        self.values.withLock { $0.append(line) }
    }

    var all: [String] { self.values.withLock { $0 } }
}
