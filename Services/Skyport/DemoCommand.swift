import ArgumentParser
import Foundation
import SkyportHTTP2
import SkyportProto
import SkyportRPC

/// `skyport demo`: the whole session story on the running local suite, step by step with timings:
/// developer, application, version, package, entitlement, token, redemption (which data centre and
/// why), host, connection, inputs and outputs, the end with saved state, and a second session from a
/// client near the other data centre that resumes the saved state. Exits non-zero when any step does
/// not do what it should, so it doubles as an end-to-end check.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Run a real session end to end on the local suite (skyport up first).")

    @Option(name: .long, help: "The state directory of the running suite.") var stateDir: String?
    @Option(name: .long, help: "The demo application's package directory.")
    var package: String = "Services/StreamHost/DemoApp"

    func run() async throws {
        let directory = SuiteState.directory(self.stateDir)
        guard let state = try SuiteState.load(from: directory) else {
            throw SuiteError("no suite runs in \(directory): run skyport up (make demo does)")
        }
        var steps = DemoSteps()
        let connection = try EntitlementConnection.parse(["--state-dir", directory])

        // Developer side.
        var developer = Skyport_Entitlement_V1_CreateDeveloperRequest()
        developer.displayName = "Demo Studio"
        developer.email = "demo@example.com"
        let created = try await steps.run("developer") {
            try await connection.run { try await $0.createDeveloper(developer) }
        } detail: {
            "\($0.developer?.developerId ?? "?") with an API key (shown once, stored hashed)"
        }
        let key: Metadata = ["authorization": .string("Bearer \(created.apiKey)")]

        var register = Skyport_Entitlement_V1_RegisterApplicationRequest()
        register.name = "Skyport demo"
        register.homeDatacentre = "dc1"
        var profile = Skyport_Entitlement_V1_ResourceProfile()
        profile.cpuUnits = 1
        profile.memoryMib = 64
        profile.sessionsPerInstance = 1
        register.profile = profile
        let app = try await steps.run("application") {
            try await connection.run { try await $0.registerApplication(register, metadata: key) }
        } detail: {
            "\($0.appId), home data centre \($0.homeDatacentre), 1 CPU unit, 64 MiB, single-tenant"
        }

        var publish = Skyport_Entitlement_V1_PublishVersionRequest()
        publish.appId = app.appId
        publish.versionId = "1.0.0"
        publish.launchCommand = "python3 demo_app.py"
        _ = try await steps.run("version") {
            try await connection.run { try await $0.publishVersion(publish, metadata: key) }
        } detail: {
            "\($0.versionId), launched as '\($0.launchCommand)'"
        }

        _ = try await steps.run("package") {
            let paths = try PackageInstaller.install(
                app: app.appId, version: "1.0.0", from: self.package, state: state)
            try await Self.waitForPackage(app: app.appId, version: "1.0.0", state: state)
            return paths.count
        } detail: {
            "installed on \($0) stream hosts, reported to both host managements"
        }

        var grant = Skyport_Entitlement_V1_GrantEntitlementRequest()
        grant.appId = app.appId
        grant.userId = "alice"
        grant.kind = .purchase
        _ = try await steps.run("entitlement") {
            try await connection.run { try await $0.grantEntitlement(grant, metadata: key) }
        } detail: { _ in
            "alice owns it (purchase)"
        }

        // Two sessions: the first from a client near dc2 (Frankfurt), the second near dc1 (Amsterdam).
        let client = SessionClient(trustRootsPath: state.tlsDirectory + "/ca.pem")
        var first: SessionClient.Conversation?
        var datacentres: [String] = []
        for (round, address, inputs) in [
            (1, "198.51.100.7", ["hello", "left", "jump"]), (2, "192.0.2.10", ["again"]),
        ] {
            var request = Skyport_Entitlement_V1_RequestSessionRequest()
            request.appId = app.appId
            request.userId = "alice"
            request.clientAddress = address
            let token = try await steps.run("token \(round)") {
                try await connection.run { try await $0.requestSession(request, metadata: key) }
            } detail: {
                "session \($0.sessionId), version \($0.versionId), valid until \(CommandLineDate.text($0.expiresAtUnixMs))"
            }
            guard let endpoint = token.redemptionEndpoints.first else { throw SuiteError("no redemption endpoint") }
            let redeemed = try await steps.run("redemption \(round)") {
                try await client.redeem(token.tokenText, at: endpoint, clientAddress: address).response
            } detail: {
                "client \(address) → \($0.datacentre): \($0.routeReason)"
            }
            steps.note(
                "host \(round)",
                "\(redeemed.clientAddress), instance \(redeemed.instanceId): \(redeemed.placementReason)")
            let conversation = try await steps.run("session \(round)") {
                try await client.converse(redeemed, inputs: inputs)
            } detail: { conversation in
                let io = zip(inputs, conversation.outputs).map { "'\($0)' → '\($1)'" }.joined(separator: ", ")
                return "connected in \(Timing.text(conversation.connectElapsed))"
                    + (conversation.welcome?.resumedState == true ? " (resumed saved state)" : "") + "; \(io)"
            }
            guard conversation.outputs.count == inputs.count else {
                throw SuiteError("the application answered \(conversation.outputs.count) of \(inputs.count) inputs")
            }
            _ = try await steps.run("end \(round)") {
                try await Self.waitForEnd(of: redeemed, state: state)
            } detail: {
                "session ended (\($0)); the application's state is kept at the home data centre"
            }
            if round == 1 { first = conversation }
            datacentres.append(redeemed.datacentre)
            if round == 2 {
                guard conversation.welcome?.resumedState == true, conversation.outputs.first?.contains("#4") == true
                else {
                    throw SuiteError(
                        "the second session did not resume the saved count: \(conversation.outputs) after \(first?.outputs ?? [])"
                    )
                }
            }
        }
        steps.note(
            "done",
            "the second session (in \(datacentres[1])) resumed at input #4 from the state the first (in "
                + "\(datacentres[0])) saved")
    }

    /// Waits until both host managements list a host holding the package (hosts re-register every few
    /// seconds, rescanning their packages).
    static func waitForPackage(app: String, version: String, state: SuiteState) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        for instance in state.instances where instance.executable == "hostmgr" {
            try await Self.withHostManager(instance, state: state) { hostmgr in
                while true {
                    let hosts = try await hostmgr.listHosts(.init())
                    if hosts.hosts.contains(where: { host in
                        host.state == "up" && host.packages.contains { $0.appId == app && $0.versionId == version }
                    }) {
                        return
                    }
                    guard ContinuousClock.now < deadline else {
                        throw SuiteError("\(instance.name) lists no host with \(app) \(version) after 20 s")
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
        }
    }

    /// Waits until the host management of the session's data centre records its end; the end reason.
    static func waitForEnd(of session: Skyport_Redemption_V1_RedeemResponse, state: SuiteState) async throws -> String {
        guard
            let instance = state.instances.first(where: {
                $0.executable == "hostmgr" && $0.environment["SKYPORT_HOSTMGR_DATACENTRE"] == session.datacentre
            })
        else { throw SuiteError("no host management for \(session.datacentre) in the suite") }
        return try await Self.withHostManager(instance, state: state) { hostmgr in
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                let sessions = try await hostmgr.listSessions(.init())
                if let info = sessions.sessions.first(where: { $0.sessionId == session.sessionId }),
                    info.state == "ended"
                {
                    return info.endReason
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw SuiteError("\(instance.name) did not record the end of \(session.sessionId) within 20 s")
        }
    }

    /// Runs `body` with an operator client of `instance`, over one connection for all its calls.
    static func withHostManager<T>(
        _ instance: SuiteState.Instance, state: SuiteState,
        _ body: (Skyport_Hostmgr_V1_HostManagerClient) async throws -> T
    ) async throws -> T {
        let transport = try OperatorTransport.connect(
            to: instance.address, identity: "hostmgr", tlsDirectory: state.tlsDirectory)
        do {
            let value = try await body(Skyport_Hostmgr_V1_HostManagerClient(RPCClient(transport: transport)))
            await transport.close()
            return value
        } catch {
            await transport.close()
            throw error
        }
    }
}

/// Prints the demo's steps with their durations.
struct DemoSteps {
    private let start = ContinuousClock.now

    /// Runs one step and prints `[ elapsed | step duration ] name: detail`.
    mutating func run<T>(
        _ name: String, _ body: () async throws -> T, detail: (T) -> String
    ) async throws -> T {
        let began = ContinuousClock.now
        do {
            let value = try await body()
            self.print(name, detail(value), took: ContinuousClock.now - began)
            return value
        } catch let error as RPCError {
            self.print(name, "FAILED: \(error.status.code): \(error.status.message)", took: ContinuousClock.now - began)
            throw SuiteError("\(name) failed: \(error.status.code): \(error.status.message)")
        } catch {
            self.print(name, "FAILED: \(error)", took: ContinuousClock.now - began)
            throw error
        }
    }

    /// Prints a line without a duration of its own.
    func note(_ name: String, _ detail: String) {
        self.print(name, detail, took: nil)
    }

    private func print(_ name: String, _ detail: String, took: Duration?) {
        let total = Timing.text(ContinuousClock.now - self.start)
        let step = took.map { Timing.text($0) } ?? ""
        Swift.print(
            "[\(total.padding(toLength: 9, withPad: " ", startingAt: 0)) \(step.padding(toLength: 9, withPad: " ", startingAt: 0))] \(name.padding(toLength: 13, withPad: " ", startingAt: 0)) \(detail)"
        )
    }
}
