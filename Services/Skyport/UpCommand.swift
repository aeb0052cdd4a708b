import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `skyport up`: the whole suite from `compose/compose.yaml` as local processes.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start every service of the compose file as a local process and wait until all are SERVING.",
        discussion: """
            Reads the compose file (default compose/compose.yaml) and runs each service that has \
            build.args.SERVICE as a local process of that executable (from --bin-dir, by default the directory \
            of this skyport), in depends_on order, with the service's environment rewritten for one machine: \
            0.0.0.0:<port> and <service>:<port> become 127.0.0.1:<published port>, /run/secrets/skyport/ becomes \
            <state>/tls/ (a development CA created on first use), other /run/secrets/<name> become random tokens \
            in <state>/secrets/, /var/lib/skyport becomes <state>/data/<service>, and database URLs are dropped so \
            every service uses its embedded SQLite store. PostgreSQL and other services without an executable \
            are not started. Logs go to <state>/logs/<service>.log. Services already running from an earlier \
            `skyport up` are kept. The state directory is --state-dir, else $SKYPORT_STATE_DIR, else ./.skyport.
            """)

    @Option(name: .long, help: "The compose file.")
    var compose = "compose/compose.yaml"

    @Option(name: .long, help: "The state directory (TLS, data, logs, suite.json).")
    var stateDir: String?

    @Option(name: .long, help: "Where the service executables are; default: next to this skyport.")
    var binDir: String?

    @Option(name: .long, help: "Seconds to wait for every service to report SERVING.")
    var timeout: Double = 60

    @Option(name: .long, help: "Added to every published port (to run a second suite beside one on the standard ports).")
    var portOffset = 0

    func run() async throws {
        let stateDirectory = URL(fileURLWithPath: SuiteState.directory(self.stateDir)).standardizedFileURL.path
        let binDirectory = self.binDir ?? LocalSuite.defaultBinaryDirectory()
        let composeFile: ComposeFile
        let plan: [LocalSuite.Instance]
        do {
            composeFile = try ComposeFile(path: self.compose)
            plan = try LocalSuite.plan(
                compose: composeFile, stateDirectory: stateDirectory, portOffset: self.portOffset)
            for directory in ["logs", "data"] {
                try FileManager.default.createDirectory(
                    atPath: stateDirectory + "/" + directory, withIntermediateDirectories: true)
            }
            try LocalSuite.prepareSecrets(plan: plan, stateDirectory: stateDirectory)
        } catch let error as ComposeFileError {
            throw ValidationError(error.description)
        }
        for instance in plan {
            let binary = binDirectory + "/" + instance.executable
            guard FileManager.default.isExecutableFile(atPath: binary) else {
                throw ValidationError(
                    "\(binary) does not exist: build the services first (swift build), or pass --bin-dir")
            }
        }

        let tls = stateDirectory + "/tls"
        let previous = (try? SuiteState.load(from: stateDirectory)) ?? nil
        var state = SuiteState(tlsDirectory: tls, composeFile: composeFile.path, instances: [])
        var startedHere: [SuiteState.Instance] = []
        var probes: [String: HealthProbe] = [:]
        var startedAt: [String: ContinuousClock.Instant] = [:]
        var serving: [String: Int] = [:]
        let clock = ContinuousClock()
        let suiteStart = clock.now
        let deadline = suiteStart + .milliseconds(Int(self.timeout * 1000))
        print("skyport up: \(plan.count) services from \(self.compose), state in \(stateDirectory)")

        func fail(_ message: String) async throws -> Never {
            for probe in probes.values { await probe.close() }
            for instance in startedHere where LocalSuite.isRunning(pid: instance.pid, binary: instance.binary) {
                kill(instance.pid, SIGTERM)
            }
            try? SuiteState(tlsDirectory: tls, composeFile: composeFile.path, instances: state.instances.filter { instance in
                !startedHere.contains { $0.name == instance.name }
            }).save(to: stateDirectory)
            throw ValidationError(message)
        }

        while serving.count < plan.count {
            for instance in plan where startedAt[instance.name] == nil {
                guard instance.dependsOn.allSatisfy({ serving[$0] != nil }) else { continue }
                let binary = binDirectory + "/" + instance.executable
                let logFile = stateDirectory + "/logs/\(instance.name).log"
                let record: SuiteState.Instance
                if let running = previous?.instances.first(where: { $0.name == instance.name }),
                    running.binary == binary, LocalSuite.isRunning(pid: running.pid, binary: running.binary)
                {
                    record = running
                    print("  \(instance.name): already running (pid \(running.pid))")
                } else {
                    let pid: Int32
                    do {
                        pid = try LocalSuite.spawn(binary: binary, environment: instance.environment, logFile: logFile)
                    } catch {
                        try await fail("\(instance.name): \(error)")
                    }
                    record = SuiteState.Instance(
                        name: instance.name, executable: instance.executable, binary: binary, address: instance.address,
                        metricsAddress: instance.metricsAddress, pid: pid, logFile: logFile)
                    startedHere.append(record)
                }
                state.instances.append(record)
                try state.save(to: stateDirectory)
                startedAt[instance.name] = clock.now
                let (host, port) = Self.split(instance.address)
                probes[instance.name] = try HealthProbe(
                    host: host, port: port,
                    tls: .init(ca: tls + "/ca.pem", certificate: tls + "/skyport.pem", key: tls + "/skyport-key.pem"))
            }
            for instance in plan where startedAt[instance.name] != nil && serving[instance.name] == nil {
                guard let record = state.instances.first(where: { $0.name == instance.name }) else { continue }
                if !LocalSuite.isRunning(pid: record.pid, binary: record.binary) {
                    LocalSuite.reapIfChild(record.pid)
                    try await fail(
                        "\(instance.name) exited during start; the end of \(record.logFile):\n"
                            + LocalSuite.tail(record.logFile))
                }
                if await probes[instance.name]!.check(timeout: .milliseconds(500)).isServing {
                    let elapsed = LocalSuite.milliseconds(clock.now - startedAt[instance.name]!)
                    serving[instance.name] = elapsed
                    print("  \(instance.name): SERVING on \(instance.address) after \(elapsed) ms")
                }
            }
            if serving.count < plan.count {
                if clock.now > deadline {
                    let waiting = plan.filter { serving[$0.name] == nil }.map(\.name)
                    try await fail(
                        "not SERVING after \(self.timeout) s: \(waiting.joined(separator: ", ")); logs in \(stateDirectory)/logs")
                }
                try await Task.sleep(for: .milliseconds(25))
            }
        }
        for probe in probes.values { await probe.close() }
        let total = LocalSuite.milliseconds(clock.now - suiteStart)
        print("")
        print(
            Table.render(
                ["SERVICE", "EXECUTABLE", "ADDRESS", "METRICS", "PID", "HEALTH", "START"],
                state.instances.map { instance in
                    [
                        instance.name, instance.executable, instance.address, instance.metricsAddress, "\(instance.pid)",
                        "SERVING", startedHere.contains { $0.name == instance.name } ? "\(serving[instance.name]!) ms" : "kept",
                    ]
                }))
        print("")
        print("suite SERVING in \(total) ms (\(startedHere.count) started, \(plan.count - startedHere.count) kept)")
        print("logs: \(stateDirectory)/logs   stop: skyport down   health: skyport status")
    }

    static func split(_ address: String) -> (String, Int) {
        let colon = address.lastIndex(of: ":")!
        return (String(address[..<colon]), Int(address[address.index(after: colon)...]) ?? 0)
    }
}
