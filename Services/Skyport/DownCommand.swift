import SkyportRPC
import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `skyport down`: stops the suite `skyport up` started, gracefully, dependents first.
struct DownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop the local suite gracefully (SIGTERM, then SIGKILL after --timeout).",
        discussion: """
            Stops the suite in the state directory one dependency level at a time, dependents first (a \
            service is signalled once nothing that depends on it still runs): each gets SIGTERM, turns \
            NOT_SERVING, sends GOAWAY, finishes its calls in flight and closes its store. Whatever still runs \
            --timeout seconds after the start of `skyport down` is killed. Data and logs stay in the state \
            directory.
            """)

    @Option(name: .long, help: "The state directory.")
    var stateDir: String?

    @Option(name: .long, help: "Seconds to wait for the services to exit before SIGKILL.")
    var timeout: Double = 30

    func validate() throws {
        guard self.timeout.isFinite, (0...3600).contains(self.timeout) else {
            throw ValidationError("--timeout must be 0 to 3600 seconds")
        }
    }

    func run() async throws {
        let stateDirectory = SuiteState.directory(self.stateDir)
        guard let state = try SuiteState.load(from: stateDirectory) else {
            print("skyport down: no suite in \(stateDirectory)")
            return
        }
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int(self.timeout * 1000))
        var outcome: [String: String] = [:]
        var remaining = state.instances.filter { instance in
            guard LocalSuite.isRunning(pid: instance.pid, binary: instance.binary) else {
                outcome[instance.name] = "not running"
                return false
            }
            return true
        }
        while !remaining.isEmpty {
            let names = Set(remaining.map(\.name))
            var level = remaining.filter { candidate in
                !remaining.contains { $0.dependsOn.contains(candidate.name) && names.contains($0.name) }
            }
            if level.isEmpty { level = remaining }  // a dependency cycle: stop the rest together
            for instance in level { kill(instance.pid, SIGTERM) }
            while !level.isEmpty && clock.now <= deadline {
                level.removeAll { instance in
                    LocalSuite.reapIfChild(instance.pid)
                    guard !LocalSuite.isRunning(pid: instance.pid, binary: instance.binary) else { return false }
                    outcome[instance.name] = "stopped after \(Int((clock.now - start).wholeMilliseconds)) ms"
                    remaining.removeAll { $0.name == instance.name }
                    return true
                }
                if !level.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
            }
            if clock.now > deadline { break }
        }
        for instance in remaining {
            kill(instance.pid, SIGKILL)
            outcome[instance.name] = "killed after \(self.timeout) s"
        }
        // Give killed processes a moment to disappear before the state that names them goes.
        let killDeadline = clock.now + .seconds(2)
        while remaining.contains(where: { LocalSuite.isRunning(pid: $0.pid, binary: $0.binary) })
            && clock.now < killDeadline
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        print(
            Table.render(
                ["SERVICE", "PID", "RESULT"],
                state.instances.map { [$0.name, "\($0.pid)", outcome[$0.name] ?? "?"] }))
        try FileManager.default.removeItem(atPath: SuiteState.file(in: stateDirectory))
        print(
            "suite stopped in \(Int((clock.now - start).wholeMilliseconds)) ms; data and logs kept in \(stateDirectory)"
        )
        if !remaining.isEmpty { throw ExitCode(1) }
    }
}
