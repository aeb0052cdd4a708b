import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `skyport down`: stops the suite `skyport up` started, gracefully.
struct DownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop the local suite gracefully (SIGTERM, then SIGKILL after --timeout).",
        discussion: """
            Sends SIGTERM to every service of the suite in the state directory (dependents first): each turns \
            NOT_SERVING, sends GOAWAY, finishes its calls in flight and closes its store. A service still running \
            after --timeout seconds is killed. Data and logs stay in the state directory.
            """)

    @Option(name: .long, help: "The state directory.")
    var stateDir: String?

    @Option(name: .long, help: "Seconds to wait for the services to exit before SIGKILL.")
    var timeout: Double = 30

    func run() async throws {
        let stateDirectory = SuiteState.directory(self.stateDir)
        guard let state = try SuiteState.load(from: stateDirectory) else {
            print("skyport down: no suite in \(stateDirectory)")
            return
        }
        let clock = ContinuousClock()
        let start = clock.now
        var outcome: [String: String] = [:]
        var running: [SuiteState.Instance] = []
        for instance in state.instances.reversed() {
            if LocalSuite.isRunning(pid: instance.pid, binary: instance.binary) {
                kill(instance.pid, SIGTERM)
                running.append(instance)
            } else {
                outcome[instance.name] = "not running"
            }
        }
        let deadline = start + .milliseconds(Int(self.timeout * 1000))
        while !running.isEmpty {
            running.removeAll { instance in
                LocalSuite.reapIfChild(instance.pid)
                guard !LocalSuite.isRunning(pid: instance.pid, binary: instance.binary) else { return false }
                outcome[instance.name] = "stopped after \(LocalSuite.milliseconds(clock.now - start)) ms"
                return true
            }
            if clock.now > deadline {
                for instance in running {
                    kill(instance.pid, SIGKILL)
                    outcome[instance.name] = "killed after \(self.timeout) s"
                }
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        print(
            Table.render(
                ["SERVICE", "PID", "RESULT"],
                state.instances.map { [$0.name, "\($0.pid)", outcome[$0.name] ?? "?"] }))
        try FileManager.default.removeItem(atPath: SuiteState.file(in: stateDirectory))
        let killed = outcome.values.filter { $0.hasPrefix("killed") }.count
        print("suite stopped in \(LocalSuite.milliseconds(clock.now - start)) ms; data and logs kept in \(stateDirectory)")
        if killed > 0 { throw ExitCode(1) }
    }
}
