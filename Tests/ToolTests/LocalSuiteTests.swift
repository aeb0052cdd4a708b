import Foundation
import Testing

@testable import SkyportTool

/// How `skyport up` reads a compose file and rewrites it for one machine.
@Suite struct LocalSuiteTests {
    static let yaml = """
        services:
          postgres:
            image: postgres:16-bookworm
          hostmgr-dc1:
            build:
              context: ..
              args:
                SERVICE: hostmgr
            ports:
              - "127.0.0.1:7103:7000"
              - "127.0.0.1:9103:9000"
            environment:
              SKYPORT_HOSTMGR_LISTEN: "0.0.0.0:7000"
              SKYPORT_HOSTMGR_METRICS_LISTEN: "0.0.0.0:9000"
              SKYPORT_HOSTMGR_DATABASE_URL: "postgres://hostmgr_dc1@postgres:5432/hostmgr_dc1"
              SKYPORT_HOSTMGR_DATABASE_PASSWORD_FILE: "/run/secrets/hostmgr_dc1_db_password"
              SKYPORT_HOSTMGR_TLS_CERT: "/run/secrets/skyport/hostmgr.pem"
              SKYPORT_HOSTMGR_METRICS_TOKEN_FILE: "/run/secrets/metrics_token"
              SKYPORT_HOSTMGR_DATA_DIR: "/var/lib/skyport"
            depends_on:
              postgres:
                condition: service_healthy
          streamhost-dc1:
            build:
              args:
                SERVICE: streamhost
            ports: ["127.0.0.1:7107:7000", "127.0.0.1:9107:9000"]
            environment:
              - SKYPORT_STREAMHOST_LISTEN=0.0.0.0:7000
              - SKYPORT_STREAMHOST_METRICS_LISTEN=0.0.0.0:9000
              - SKYPORT_STREAMHOST_HOSTMGR=hostmgr-dc1:7000
              - SKYPORT_STREAMHOST_ADVERTISE_ADDRESS=streamhost-dc1:7000
              - SKYPORT_STREAMHOST_SLOTS=4
              - SKYPORT_STREAMHOST_PEERS=dc1=hostmgr-dc1:7000,streamhost-dc1:9000,elsewhere:1
            depends_on: [hostmgr-dc1, postgres]
        """

    @Test func readsTheServicesInFileOrderWithTheirExecutables() throws {
        let compose = try ComposeFile(yaml: Self.yaml, path: "test.yaml")
        #expect(compose.services.map(\.name) == ["postgres", "hostmgr-dc1", "streamhost-dc1"])
        #expect(compose.services.map(\.executable) == [nil, "hostmgr", "streamhost"])
        #expect(compose.services[2].publishedPorts == [7000: 7107, 9000: 9107])
        #expect(try compose.localServices().map(\.name) == ["hostmgr-dc1", "streamhost-dc1"])
    }

    @Test func rewritesAddressesSecretsAndDataForOneMachine() throws {
        let compose = try ComposeFile(yaml: Self.yaml, path: "test.yaml")
        let plan = try LocalSuite.plan(compose: compose, stateDirectory: "/state", portOffset: 20000)
        let hostmgr = try #require(plan.first { $0.name == "hostmgr-dc1" })
        #expect(hostmgr.address == "127.0.0.1:27103")
        #expect(hostmgr.metricsAddress == "127.0.0.1:29103")
        #expect(hostmgr.environment["SKYPORT_HOSTMGR_TLS_CERT"] == "/state/tls/hostmgr.pem")
        #expect(hostmgr.environment["SKYPORT_HOSTMGR_METRICS_TOKEN_FILE"] == "/state/secrets/metrics_token")
        #expect(hostmgr.environment["SKYPORT_HOSTMGR_DATA_DIR"] == "/state/data/hostmgr-dc1")
        // SQLite instead of PostgreSQL: the database settings are dropped.
        #expect(hostmgr.environment["SKYPORT_HOSTMGR_DATABASE_URL"] == nil)
        #expect(hostmgr.environment["SKYPORT_HOSTMGR_DATABASE_PASSWORD_FILE"] == nil)
        #expect(hostmgr.dependsOn.isEmpty)

        let streamhost = try #require(plan.first { $0.name == "streamhost-dc1" })
        #expect(streamhost.environment["SKYPORT_STREAMHOST_HOSTMGR"] == "127.0.0.1:27103")
        #expect(streamhost.environment["SKYPORT_STREAMHOST_ADVERTISE_ADDRESS"] == "127.0.0.1:27107")
        #expect(streamhost.environment["SKYPORT_STREAMHOST_SLOTS"] == "4")
        // Lists, named or not: each address is rewritten; unknown hosts stay as they are.
        #expect(
            streamhost.environment["SKYPORT_STREAMHOST_PEERS"] == "dc1=127.0.0.1:27103,127.0.0.1:29107,elsewhere:1")
        #expect(streamhost.dependsOn == ["hostmgr-dc1"])
    }

    @Test func refusesCyclesUnknownDependenciesAndUnpublishedPorts() throws {
        let cycle = """
            services:
              a:
                build: {args: {SERVICE: billing}}
                depends_on: [b]
              b:
                build: {args: {SERVICE: forecast}}
                depends_on: [a]
            """
        #expect(throws: SuiteError.self) { try ComposeFile(yaml: cycle, path: "x").localServices() }
        let unknown = """
            services:
              a:
                build: {args: {SERVICE: billing}}
                depends_on: [ghost]
            """
        #expect(throws: SuiteError.self) { try ComposeFile(yaml: unknown, path: "x") }
        let unpublished = """
            services:
              a:
                build: {args: {SERVICE: billing}}
                environment:
                  SKYPORT_BILLING_LISTEN: "0.0.0.0:7000"
                  SKYPORT_BILLING_METRICS_LISTEN: "0.0.0.0:9000"
            """
        do {
            _ = try LocalSuite.plan(compose: ComposeFile(yaml: unpublished, path: "x"), stateDirectory: "/s")
            Issue.record("planned a service whose port is not published")
        } catch let error as SuiteError {
            #expect(error.description.contains("publishes no host port for"))
        }
        #expect(throws: SuiteError.self) { try ComposeFile(yaml: "services: [1, 2]", path: "x") }
    }

    @Test func splitsAddresses() {
        #expect(splitAddress("127.0.0.1:7101")! == ("127.0.0.1", 7101))
        #expect(splitAddress("[::1]:7000")! == ("::1", 7000))
        #expect(splitAddress("localhost") == nil)
        #expect(splitAddress(":7000") == nil)
        #expect(splitAddress("host:70000") == nil)
    }
}

/// How `skyport bench-sessions` reads and reports process CPU.
@Suite struct ProcessCPUTests {
    @Test func ticksAreUserPlusSystemCountedAfterTheCommandName() {
        // A command name with a space and a parenthesis must not shift the fields.
        let line = "4242 (NIO) x (y) S 1 4242 4242 0 -1 4194560 1200 0 0 0 731 269 0 0 20 0 9 0 12345 0 0"
        #expect(ProcessCPU.cpuTicks(statLine: line) == 1000)
        #expect(ProcessCPU.cpuTicks(statLine: "4242 (short) S 1 2") == nil)
        #expect(ProcessCPU.cpuTicks(statLine: "garbage") == nil)
        #expect(ProcessCPU.parentPID(statLine: line) == 1)
        #expect(ProcessCPU.reapedChildrenTicks(statLine: line) == 0)
        let parent = "4242 (streamhost) S 1 4242 4242 0 -1 4194560 1200 0 0 0 731 269 40 2 20 0 9 0 12345 0 0"
        #expect(ProcessCPU.reapedChildrenTicks(statLine: parent) == 42)
        #expect(ProcessCPU.parentPID(statLine: "4242 (short)") == nil)
    }

    @Test func childrenOfAStreamHostCountAsApps() async throws {
        // A busy child of this process, which plays the stream host: its CPU time shows as `apps`.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        child.arguments = ["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exec sleep 30"]
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        defer {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        let cpu = ProcessCPU(state: SuiteState(tlsDirectory: "", composeFile: "", instances: []))
        let host = ProcessCPU(processes: [.init(name: "streamhost-dc1", pid: getpid())])
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        var apps = 0.0
        while apps == 0, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            apps = host.snapshot()["apps"] ?? 0
        }
        #expect(apps > 0)
        // Without a stream host there is no `apps` entry.
        #expect(cpu.snapshot()["apps"] == nil)
    }

    @Test func thisProcessHasCPUTimeThatGrows() throws {
        let cpu = ProcessCPU(state: SuiteState(tlsDirectory: "", composeFile: "", instances: []))
        let first = try #require(cpu.snapshot()["client"])
        // Spin until the clock ticks (10 ms), at most 5 s.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        var spin = 0.0
        var later = first
        while later <= first && clock.now < deadline {
            for index in 0..<100_000 { spin += Double(index).squareRoot() }
            later = cpu.snapshot()["client"] ?? first
        }
        #expect(spin > 0)
        #expect(later > first)
    }

    @Test func perStartDividesByStartsListsTheLargestFirstAndOmitsTheSmallest() {
        let before = ["hostmgr-dc1": 10.0, "redemption": 5.0, "billing": 1.0, "client": 2.0]
        let after = ["hostmgr-dc1": 12.0, "redemption": 6.0, "billing": 1.0001, "client": 2.5]
        #expect(
            ProcessCPU.perStart(from: before, to: after, starts: 1000)
                == "all 3.50 ms: hostmgr-dc1 2.00, redemption 1.00, client 0.50")
        #expect(ProcessCPU.perStart(from: [:], to: after, starts: 1000) == nil)
        #expect(ProcessCPU.perStart(from: before, to: after, starts: 0) == nil)
    }
}
