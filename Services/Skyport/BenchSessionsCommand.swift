import ArgumentParser
import Foundation
import SkyportHTTP2
import SkyportProto
import SkyportRPC
import Synchronization

/// `skyport bench-sessions`: session starts on the running local suite.
///
/// - Warm: a multi-tenant application (many seats per instance) with running instances; each start is
///   `RequestSession` at entitlement (API key, entitlement check, the home host management mints the
///   token) then `Redeem` at the redemption node (verify, route, claim at the home, place on a free seat,
///   provision on the stream host) — timed from the request to the session info at the client.
///   `--concurrency` clients run for `--sessions` starts; then every token is redeemed a second time
///   and each success counted as a double redemption (there must be none).
/// - Paced (open loop): for each `--rate`, starts are sent at that many per second for `--paced-seconds`,
///   each one when it is due whatever the others are doing, and timed from when it was due (so a slow
///   service cannot hide its queue by slowing the client down). This is the goal's measurement: the
///   p99 at a given rate of starts. A closed loop of 32 clients cannot show it, since its latency is
///   32 divided by its throughput. The phases begin `--settle-seconds` after the closed loop (once its
///   sessions have ended) and follow each other; a phase longer than the suite's connect window (5 s
///   in `make bench-sessions`) includes the ends of its own unconnected sessions, as a steady state does.
/// - Cold: a single-tenant application with no warm instance: each start launches the application
///   process (`--cold` sequential starts).
struct BenchSessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-sessions",
        abstract: "Measure session starts on the running local suite (make bench-sessions).")

    @Option(name: .long, help: "The state directory of the running suite.") var stateDir: String?
    @Option(help: "Warm session starts to measure.") var sessions = 5000
    @Option(help: "Concurrent clients.") var concurrency = 32
    @Option(help: "Unmeasured warm-up starts.") var warmup = 300
    @Option(help: "Cold starts (each launches the application).") var cold = 5
    @Option(name: .customLong("rate"), help: "Offered rates (starts per second) of the paced phases; repeatable.")
    var rates: [Int] = [250, 500, 750, 1000]
    @Option(help: "Length of each paced phase in seconds.") var pacedSeconds = 10
    @Option(help: "Pause before the paced phases, so the closed loop's sessions have ended (connect window + 1 s).")
    var settleSeconds = 6
    @Option(
        name: .long,
        help:
            "Also write every successful start to this CSV file: phase, began (ms into the phase), total, RequestSession and Redeem ms."
    )
    var timeline: String?
    @Option(name: .long, help: "The demo application's package directory.")
    var package: String = "Services/StreamHost/DemoApp"

    func validate() throws {
        guard (1...1_000_000).contains(self.sessions), (1...1024).contains(self.concurrency),
            (0...100_000).contains(self.warmup), (0...100).contains(self.cold),
            self.rates.allSatisfy({ (1...100_000).contains($0) }), (1...600).contains(self.pacedSeconds),
            (0...600).contains(self.settleSeconds)
        else {
            throw ValidationError(
                "--sessions, --concurrency, --warmup, --cold, --rate, --paced-seconds or --settle-seconds is out of range"
            )
        }
    }

    func run() async throws {
        // The client side of the measurement gets the same executor as the services.
        await SharedEventLoopGroup.runConcurrencyOnEventLoops()
        let directory = SuiteState.directory(self.stateDir)
        guard let state = try SuiteState.load(from: directory),
            let entitlementAddress = state.instance(named: "entitlement")?.address,
            let redemptionAddress = state.instance(named: "redemption")?.address
        else { throw SuiteError("no suite runs in \(directory) (skyport up)") }
        let entitlementTransport = try OperatorTransport.connect(
            to: entitlementAddress, identity: "entitlement", tlsDirectory: state.tlsDirectory)
        let session = SessionClient(trustRootsPath: state.tlsDirectory + "/ca.pem")
        let redemptionTransport = try session.transport(to: redemptionAddress, identity: "redemption")
        defer {
            Task {
                await entitlementTransport.close()
                await redemptionTransport.close()
            }
        }
        let entitlement = Skyport_Entitlement_V1_EntitlementClient(RPCClient(transport: entitlementTransport))
        let redemption = Skyport_Redemption_V1_RedemptionClient(RPCClient(transport: redemptionTransport))

        var developer = Skyport_Entitlement_V1_CreateDeveloperRequest()
        developer.displayName = "Bench"
        developer.email = "bench@example.com"
        let key: Metadata = [
            "authorization": .string("Bearer \(try await entitlement.createDeveloper(developer).apiKey)")
        ]
        let warmApp = try await self.application(
            "bench-warm", sessionsPerInstance: 10_000, entitlement: entitlement, key: key, state: state)
        let coldApp = try await self.application(
            "bench-cold", sessionsPerInstance: 1, entitlement: entitlement, key: key, state: state)
        try await DemoCommand.waitForPackage(app: warmApp, version: "1.0.0", state: state)
        try await DemoCommand.waitForPackage(app: coldApp, version: "1.0.0", state: state)

        let start = Starter(entitlement: entitlement, redemption: redemption, key: key)
        // Warm-up: the first starts launch the shared instances; later ones take free seats.
        _ = try await start.many(app: warmApp, count: self.warmup, concurrency: self.concurrency)
        print("warm-up: \(self.warmup) starts")
        let clock = ContinuousClock()
        let cpu = ProcessCPU(state: state)
        let began = clock.now
        let warmCPU = cpu.snapshot()
        let warm = try await start.many(app: warmApp, count: self.sessions, concurrency: self.concurrency)
        let wall = clock.now - began
        let warmCPUPerStart = ProcessCPU.perStart(from: warmCPU, to: cpu.snapshot(), starts: self.sessions)
        var paced: [PacedPhase] = []
        // The closed loop's sessions end when their connect window closes; the paced phases start after.
        if !self.rates.isEmpty { try await Task.sleep(for: .seconds(self.settleSeconds)) }
        for rate in self.rates {
            print("paced at \(rate)/s: started")
            let phaseCPU = cpu.snapshot()
            // After the snapshot (which reads /proc): the phase's wall time and its starts' offsets
            // count from here.
            let phaseBegan = clock.now
            let outcome = await start.paced(app: warmApp, count: rate * self.pacedSeconds, rate: rate)
            let cpuPerStart = ProcessCPU.perStart(from: phaseCPU, to: cpu.snapshot(), starts: rate * self.pacedSeconds)
            paced.append(
                PacedPhase(
                    rate: rate, began: phaseBegan, outcome: outcome, wall: clock.now - phaseBegan, cpu: cpuPerStart))
            print(
                "paced at \(rate)/s: \(outcome.latencies.count) starts, p50 / p99 / max \(Self.percentiles(outcome.latencies))"
            )
        }
        if let timeline = self.timeline {
            try Self.writeTimeline(
                [("closed loop", began, warm)] + paced.map { ("\($0.rate)/s", $0.began, $0.outcome) }, to: timeline)
        }
        let doubles = try await start.redeemAgain(
            warm.tokens + paced.flatMap(\.outcome.tokens), concurrency: self.concurrency)

        var coldLatencies: [Duration] = []
        for _ in 0..<self.cold {
            let one = try await start.many(app: coldApp, count: 1, concurrency: 1)
            coldLatencies += one.latencies
            guard one.launched == 1 else { throw SuiteError("a cold start did not launch the application") }
        }

        print("")
        print("| measurement | value |")
        print("|---|---|")
        print(
            "| warm starts (RequestSession → session info at the client) | \(warm.latencies.count) at concurrency \(self.concurrency) |"
        )
        print("| warm p50 / p99 / max | \(Self.percentiles(warm.latencies)) |")
        print(
            "| of which RequestSession (entitlement + home host management) p50 / p99 / max | \(Self.percentiles(warm.requestLatencies)) |"
        )
        print(
            "| of which Redeem (redemption + host management + stream host) p50 / p99 / max | \(Self.percentiles(warm.redeemLatencies)) |"
        )
        print(
            "| sustained warm starts per second | \(String(format: "%.0f", Double(warm.latencies.count) * 1000 / Timing.milliseconds(wall))) |"
        )
        for phase in paced {
            print(
                "| paced at \(phase.rate)/s for \(self.pacedSeconds) s (open loop, timed from when each start was due): achieved/s, p50 / p99 / max, failed | \(String(format: "%.0f", Double(phase.outcome.latencies.count) * 1000 / Timing.milliseconds(phase.wall))), \(Self.percentiles(phase.outcome.latencies)), \(phase.outcome.failures) |"
            )
        }
        // CPU seconds of every process (all threads) over the phase, divided by its starts; the client is
        // this process. Each phase carries the ends of its own sessions (and the closed loop those of the
        // warm-up), as a steady state does.
        if let warmCPUPerStart { print("| CPU per start, closed loop | \(warmCPUPerStart) |") }
        for phase in paced {
            if let cpu = phase.cpu { print("| CPU per start, paced at \(phase.rate)/s | \(cpu) |") }
        }
        let failures = warm.failures + paced.reduce(0) { $0 + $1.outcome.failures }
        print("| failed starts (closed loop) | \(warm.failures) |")
        print("| double redemptions (second Redeem of every token that succeeded) | \(doubles) |")
        print("| placements: warm instance / shared seat / launched | \(warm.warm) / \(warm.seat) / \(warm.launched) |")
        if !coldLatencies.isEmpty {
            print(
                "| cold starts (the application launched for the session), p50 / max of \(coldLatencies.count) | \(Self.percentiles(coldLatencies, only: [50])) / \(Timing.text(coldLatencies.max()!)) |"
            )
        }
        guard doubles == 0, failures == 0 else {
            throw SuiteError("\(doubles) double redemptions, \(failures) failed starts")
        }
    }

    /// Registers an application with the demo package, publishes 1.0.0, installs it, grants bench users.
    func application(
        _ name: String, sessionsPerInstance: UInt32, entitlement: Skyport_Entitlement_V1_EntitlementClient,
        key: Metadata, state: SuiteState
    ) async throws -> String {
        var register = Skyport_Entitlement_V1_RegisterApplicationRequest()
        register.name = name
        register.homeDatacentre = "dc1"
        var profile = Skyport_Entitlement_V1_ResourceProfile()
        profile.cpuUnits = 1
        profile.memoryMib = 64
        profile.sessionsPerInstance = sessionsPerInstance
        register.profile = profile
        let app = try await entitlement.registerApplication(register, metadata: key).appId
        var publish = Skyport_Entitlement_V1_PublishVersionRequest()
        publish.appId = app
        publish.versionId = "1.0.0"
        publish.launchCommand = "python3 demo_app.py"
        _ = try await entitlement.publishVersion(publish, metadata: key)
        _ = try PackageInstaller.install(app: app, version: "1.0.0", from: self.package, state: state)
        for user in 0..<Starter.users {
            var grant = Skyport_Entitlement_V1_GrantEntitlementRequest()
            grant.appId = app
            grant.userId = "bench-\(user)"
            grant.kind = .subscription
            _ = try await entitlement.grantEntitlement(grant, metadata: key)
        }
        return app
    }

    /// One paced phase: its rate, when it began, its starts, how long it took and their CPU per start.
    struct PacedPhase {
        var rate: Int
        var began: ContinuousClock.Instant
        var outcome: Starter.Outcome
        var wall: Duration
        var cpu: String?
    }

    /// Writes every successful start of `phases` as a CSV line: the phase, when the start began (ms after the phase
    /// began), and its total, RequestSession and Redeem latencies in ms, in the order the starts began.
    static func writeTimeline(
        _ phases: [(name: String, began: ContinuousClock.Instant, outcome: Starter.Outcome)], to path: String
    ) throws {
        func milliseconds(_ duration: Duration) -> String { String(format: "%.3f", Timing.milliseconds(duration)) }
        var text = "phase,began_ms,total_ms,request_ms,redeem_ms\n"
        for phase in phases {
            let outcome = phase.outcome
            for index in outcome.began.indices.sorted(by: { outcome.began[$0] < outcome.began[$1] }) {
                text +=
                    "\(phase.name),\(milliseconds(outcome.began[index] - phase.began)),"
                    + "\(milliseconds(outcome.latencies[index])),\(milliseconds(outcome.requestLatencies[index])),"
                    + "\(milliseconds(outcome.redeemLatencies[index]))\n"
            }
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// `p50 / p99 / max` (or the listed percentiles) of `samples`.
    static func percentiles(_ samples: [Duration], only: [Int] = [50, 99]) -> String {
        guard !samples.isEmpty else { return "-" }
        let sorted = samples.sorted()
        var parts = only.map { percentile in
            Timing.text(sorted[min(sorted.count - 1, (sorted.count * percentile) / 100)])
        }
        if only == [50, 99] { parts.append(Timing.text(sorted.last!)) }
        return parts.joined(separator: " / ")
    }
}

/// Starts sessions the way a developer's backend and a client do.
struct Starter {
    /// Users the starts rotate over (each has an entitlement).
    static let users = 50

    let entitlement: Skyport_Entitlement_V1_EntitlementClient
    let redemption: Skyport_Redemption_V1_RedemptionClient
    let key: Metadata

    /// What a batch of starts did.
    struct Outcome: Sendable {
        var latencies: [Duration] = []
        /// The two halves of each start: the token (entitlement), then the redemption.
        var requestLatencies: [Duration] = []
        var redeemLatencies: [Duration] = []
        /// When each start began (was due, when paced), in the order of `latencies`.
        var began: [ContinuousClock.Instant] = []
        var tokens: [String] = []
        var failures = 0
        var warm = 0
        var seat = 0
        var launched = 0

        /// Adds `other`'s starts to these.
        mutating func add(_ other: Outcome) {
            self.latencies += other.latencies
            self.requestLatencies += other.requestLatencies
            self.redeemLatencies += other.redeemLatencies
            self.began += other.began
            self.tokens += other.tokens
            self.failures += other.failures
            self.warm += other.warm
            self.seat += other.seat
            self.launched += other.launched
        }
    }

    /// `count` starts of `app`, `concurrency` at a time.
    func many(app: String, count: Int, concurrency: Int) async throws -> Outcome {
        let next = Tally()
        return await withTaskGroup(of: Outcome.self) { group in
            for _ in 0..<min(concurrency, max(count, 1)) {
                group.addTask {
                    var outcome = Outcome()
                    while true {
                        let index = next.take()
                        guard index < count else { return outcome }
                        await self.one(app: app, user: "bench-\(index % Self.users)", into: &outcome)
                    }
                }
            }
            var total = Outcome()
            for await outcome in group { total.add(outcome) }
            return total
        }
    }

    /// `count` starts of `app` at `rate` per second, each sent when it is due (open loop) and timed from
    /// then.
    func paced(app: String, count: Int, rate: Int) async -> Outcome {
        let clock = ContinuousClock()
        let began = clock.now
        return await withTaskGroup(of: Outcome.self) { group in
            for index in 0..<count {
                let due = began + .nanoseconds(Int64(index) * 1_000_000_000 / Int64(rate))
                // A loop timer, not `Task.sleep`: at 1,000 starts a second the client's own Dispatch
                // timer wake-ups took CPU from the suite it measures.
                let now = clock.now
                if due > now { await SharedEventLoopGroup.sleep(for: due - now) }
                group.addTask {
                    var outcome = Outcome()
                    await self.one(app: app, user: "bench-\(index % Self.users)", due: due, into: &outcome)
                    return outcome
                }
            }
            var total = Outcome()
            for await outcome in group { total.add(outcome) }
            return total
        }
    }

    /// One start, timed from `due` (by default, now).
    func one(app: String, user: String, due: ContinuousClock.Instant? = nil, into outcome: inout Outcome) async {
        let clock = ContinuousClock()
        let began = due ?? clock.now
        do {
            var request = Skyport_Entitlement_V1_RequestSessionRequest()
            request.appId = app
            request.userId = user
            let token = try await self.entitlement.requestSession(
                request, metadata: self.key, options: CallOptions(timeout: .seconds(30)))
            let requested = clock.now
            var redeem = Skyport_Redemption_V1_RedeemRequest()
            redeem.tokenText = token.tokenText
            let placed = try await self.redemption.redeem(redeem, options: CallOptions(timeout: .seconds(30)))
            outcome.latencies.append(clock.now - began)
            outcome.requestLatencies.append(requested - began)
            outcome.redeemLatencies.append(clock.now - requested)
            outcome.began.append(began)
            outcome.tokens.append(token.tokenText)
            if placed.placementReason.hasPrefix("warm") {
                outcome.warm += 1
            } else if placed.placementReason.hasPrefix("launched") {
                outcome.launched += 1
            } else {
                outcome.seat += 1
            }
        } catch {
            outcome.failures += 1
            if outcome.failures <= 3 { print("a start failed: \(error)") }
        }
    }

    /// Redeems every token again; the number that succeeded (each one a double redemption).
    func redeemAgain(_ tokens: [String], concurrency: Int) async throws -> Int {
        let next = Tally()
        let doubles = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<min(concurrency, max(tokens.count, 1)) {
                group.addTask {
                    while true {
                        let index = next.take()
                        guard index < tokens.count else { return }
                        var redeem = Skyport_Redemption_V1_RedeemRequest()
                        redeem.tokenText = tokens[index]
                        if (try? await self.redemption.redeem(redeem, options: CallOptions(timeout: .seconds(30))))
                            != nil
                        {
                            _ = doubles.take()
                        }
                    }
                }
            }
        }
        return doubles.count
    }
}

/// A counter shared by concurrent workers.
final class Tally: Sendable {
    private let value = Atomic<Int>(0)

    /// The next number (0, 1, 2, …).
    func take() -> Int { self.value.add(1, ordering: .relaxed).oldValue }

    /// How many were taken.
    var count: Int { self.value.load(ordering: .relaxed) }
}
