import SkyportRPC
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

    @Option(
        name: .long, help: "Added to every published port (to run a second suite beside one on the standard ports).")
    var portOffset = 0

    @Option(
        name: .customLong("env"),
        help:
            "SKYPORT_<EXECUTABLE>_<KEY>=VALUE: override a setting of every instance of that executable (repeatable), e.g. SKYPORT_STREAMHOST_SLOTS=1000."
    )
    var overrides: [String] = []

    func validate() throws {
        for override in self.overrides {
            guard override.hasPrefix("SKYPORT_"), let equals = override.firstIndex(of: "="),
                override[..<equals].count > "SKYPORT_".count
            else { throw ValidationError("--env \(override): expected SKYPORT_<EXECUTABLE>_<KEY>=VALUE") }
        }
        guard self.timeout.isFinite, (1...3600).contains(self.timeout) else {
            throw ValidationError("--timeout must be 1 to 3600 seconds")
        }
        guard (-65535...65535).contains(self.portOffset) else { throw ValidationError("--port-offset is out of range") }
    }

    func run() async throws {
        let stateDirectory = LocalSuite.canonicalPath(SuiteState.directory(self.stateDir))
        let binDirectory = LocalSuite.canonicalPath(self.binDir ?? LocalSuite.defaultBinaryDirectory())
        let composeFile = try ComposeFile(path: self.compose)
        var plan = try LocalSuite.plan(
            compose: composeFile, stateDirectory: stateDirectory, portOffset: self.portOffset)
        for override in self.overrides {
            let parts = override.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            var applied = false
            for index in plan.indices where key.hasPrefix(LocalSuite.environmentPrefix(of: plan[index].executable)) {
                plan[index].environment[key] = String(parts[1])
                applied = true
            }
            guard applied else { throw SuiteError("--env \(key): no instance of the suite reads it") }
        }
        try FileManager.default.createDirectory(
            atPath: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for directory in ["logs", "data"] {
            try FileManager.default.createDirectory(
                atPath: stateDirectory + "/" + directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        }
        try LocalSuite.prepareSecrets(plan: plan, stateDirectory: stateDirectory)
        for instance in plan {
            let binary = binDirectory + "/" + instance.executable
            guard FileManager.default.isExecutableFile(atPath: binary) else {
                throw SuiteError("\(binary) does not exist: build the services first (swift build), or pass --bin-dir")
            }
        }

        // What an earlier `skyport up` left running is kept, unless it runs another configuration.
        let tls = stateDirectory + "/tls"
        let alive = (try SuiteState.load(from: stateDirectory)?.instances ?? []).filter {
            LocalSuite.isRunning(pid: $0.pid, binary: $0.binary)
        }
        for instance in plan {
            guard let running = alive.first(where: { $0.name == instance.name }) else { continue }
            guard running.binary == binDirectory + "/" + instance.executable,
                running.environment == instance.environment
            else {
                throw SuiteError(
                    "\(instance.name) (pid \(running.pid)) runs another build or configuration (compose file, "
                        + "--port-offset or --bin-dir changed); stop the suite with skyport down first")
            }
        }
        var state = SuiteState(tlsDirectory: tls, composeFile: composeFile.path, instances: alive)
        try state.save(to: stateDirectory)

        var startedHere: [SuiteState.Instance] = []
        var probes: [String: HealthProbe] = [:]
        let clock = ContinuousClock()
        let suiteStart = clock.now
        print("skyport up: \(plan.count) services from \(self.compose), state in \(stateDirectory)")
        do {
            let serving = try await self.startAll(
                plan: plan, binDirectory: binDirectory, stateDirectory: stateDirectory, state: &state,
                startedHere: &startedHere, probes: &probes)
            for probe in probes.values { await probe.close() }
            let total = Int((clock.now - suiteStart).wholeMilliseconds)
            print("")
            print(
                Table.render(
                    ["SERVICE", "EXECUTABLE", "ADDRESS", "METRICS", "PID", "HEALTH", "START"],
                    plan.compactMap { planned in state.instances.first { $0.name == planned.name } }.map { instance in
                        [
                            instance.name, instance.executable, instance.address, instance.metricsAddress,
                            "\(instance.pid)", "SERVING", serving[instance.name].map { "\($0) ms" } ?? "kept",
                        ]
                    }))
            print("")
            print("suite SERVING in \(total) ms (\(startedHere.count) started, \(plan.count - startedHere.count) kept)")
            print("logs: \(stateDirectory)/logs   stop: skyport down   health: skyport status")
        } catch {
            for probe in probes.values { await probe.close() }
            // Stop what this run started (kept instances stay), and leave a state that lists exactly what runs.
            for instance in startedHere where instance.pid > 0 {
                kill(instance.pid, SIGTERM)
            }
            state.instances.removeAll { instance in startedHere.contains { $0.name == instance.name } }
            try? state.save(to: stateDirectory)
            throw error
        }
    }

    /// Starts every planned instance whose dependencies serve, until all serve; returns the start time
    /// in milliseconds of each instance started here.
    private func startAll(
        plan: [LocalSuite.Instance], binDirectory: String, stateDirectory: String, state: inout SuiteState,
        startedHere: inout [SuiteState.Instance], probes: inout [String: HealthProbe]
    ) async throws -> [String: Int] {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int(self.timeout * 1000))
        let tls = state.tlsDirectory
        var startedAt: [String: ContinuousClock.Instant] = [:]
        var serving: [String: Int] = [:]
        var servingNames = Set<String>()
        while servingNames.count < plan.count {
            for instance in plan where startedAt[instance.name] == nil {
                guard instance.dependsOn.allSatisfy(servingNames.contains) else { continue }
                if let running = state.instances.first(where: { $0.name == instance.name }) {
                    print("  \(instance.name): already running (pid \(running.pid))")
                } else {
                    let binary = binDirectory + "/" + instance.executable
                    let logFile = stateDirectory + "/logs/\(instance.name).log"
                    let pid = try LocalSuite.spawn(binary: binary, environment: instance.environment, logFile: logFile)
                    let record = SuiteState.Instance(
                        name: instance.name, executable: instance.executable, binary: binary, address: instance.address,
                        metricsAddress: instance.metricsAddress, pid: pid, logFile: logFile,
                        dependsOn: instance.dependsOn, environment: instance.environment)
                    startedHere.append(record)
                    state.instances.append(record)
                    try state.save(to: stateDirectory)
                }
                startedAt[instance.name] = clock.now
                guard let (host, port) = splitAddress(instance.address) else {
                    throw SuiteError("\(instance.name): cannot read its address \(instance.address)")
                }
                probes[instance.name] = try HealthProbe(
                    host: host, port: port,
                    tls: .init(ca: tls + "/ca.pem", certificate: tls + "/skyport.pem", key: tls + "/skyport-key.pem"),
                    expectedIdentity: instance.executable)
            }
            for instance in plan where startedAt[instance.name] != nil && !servingNames.contains(instance.name) {
                guard let record = state.instances.first(where: { $0.name == instance.name }) else { continue }
                if !LocalSuite.isRunning(pid: record.pid, binary: record.binary) {
                    LocalSuite.reapIfChild(record.pid)
                    throw SuiteError(
                        "\(instance.name) exited during start; the end of \(record.logFile):\n"
                            + LocalSuite.tail(record.logFile))
                }
                if await probes[instance.name]!.check(timeout: .milliseconds(500)).isServing {
                    servingNames.insert(instance.name)
                    if startedHere.contains(where: { $0.name == instance.name }) {
                        let elapsed = Int((clock.now - startedAt[instance.name]!).wholeMilliseconds)
                        serving[instance.name] = elapsed
                        print("  \(instance.name): SERVING on \(instance.address) after \(elapsed) ms")
                    }
                }
            }
            if servingNames.count < plan.count {
                if clock.now > deadline {
                    let waiting = plan.filter { !servingNames.contains($0.name) }.map(\.name)
                    throw SuiteError(
                        "not SERVING after \(self.timeout) s: \(waiting.joined(separator: ", ")); "
                            + "logs in \(stateDirectory)/logs")
                }
                try await Task.sleep(for: .milliseconds(25))
            }
        }
        return serving
    }
}
