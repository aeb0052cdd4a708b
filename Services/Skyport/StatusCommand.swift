import ArgumentParser
import Foundation

/// `skyport status`: the health of every service of the local suite.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show every service of the local suite with its process and gRPC health (exit 1 unless all SERVING).")

    @Option(name: .long, help: "The state directory.")
    var stateDir: String?

    func run() async throws {
        let stateDirectory = SuiteState.directory(self.stateDir)
        guard let state = try SuiteState.load(from: stateDirectory) else {
            print("skyport status: no suite in \(stateDirectory); start one with skyport up")
            throw ExitCode(1)
        }
        let tls = HealthProbe.TLSFiles(
            ca: state.tlsDirectory + "/ca.pem", certificate: state.tlsDirectory + "/skyport.pem",
            key: state.tlsDirectory + "/skyport-key.pem")
        let rows = try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
            for (index, instance) in state.instances.enumerated() {
                group.addTask {
                    let alive = LocalSuite.isRunning(pid: instance.pid, binary: instance.binary)
                    var health = "-"
                    if alive, let (host, port) = splitAddress(instance.address) {
                        let probe = try HealthProbe(
                            host: host, port: port, tls: tls, expectedIdentity: instance.executable)
                        health = "\(await probe.check())"
                        await probe.close()
                    }
                    return (
                        index,
                        [
                            instance.name, instance.executable, instance.address, instance.metricsAddress,
                            "\(instance.pid)", alive ? "running" : "exited", health,
                        ]
                    )
                }
            }
            var rows: [(Int, [String])] = []
            for try await row in group { rows.append(row) }
            return rows.sorted { $0.0 < $1.0 }.map(\.1)
        }
        print(Table.render(["SERVICE", "EXECUTABLE", "ADDRESS", "METRICS", "PID", "PROCESS", "HEALTH"], rows))
        if rows.contains(where: { $0[6] != "SERVING" }) { throw ExitCode(1) }
    }
}
