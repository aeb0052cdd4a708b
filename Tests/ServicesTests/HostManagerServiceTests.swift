import HostManagerService
import SkyportProto
import SkyportRPC
import Testing

@Suite("Host management")
struct HostManagerServiceTests {
    typealias Client = Skyport_Hostmgr_V1_HostManagerClient

    /// Clients as the callers the policy expects: stream hosts register, the operator lists.
    struct Fixture {
        let server: InProcessServer
        var streamhost: Client { Client(self.server.client(as: "streamhost")) }
        var operatorClient: Client { Client(self.server.client(as: InProcessServer.operatorIdentity)) }
    }

    static func withHostManager(_ backend: ServiceBackend, _ body: (Fixture) async throws -> Void) async throws {
        try await backend.withDatabase(migrations: HostStore.migrations) { db in
            let server = InProcessServer(
                services: [HostManagerService(store: HostStore(database: db), datacentre: "dc1")],
                policy: HostManager.accessPolicy)
            try await body(Fixture(server: server))
        }
    }

    static func registration(
        _ hostID: String, datacentre: String = "dc1", address: String = "10.0.0.1:7107", slots: UInt32 = 4
    ) -> Skyport_Hostmgr_V1_RegisterHostRequest {
        var request = Skyport_Hostmgr_V1_RegisterHostRequest()
        request.hostId = hostID
        request.address = address
        request.datacentre = datacentre
        request.slots = slots
        request.cpuUnits = 8
        request.memoryMib = 16_384
        request.gpuScore = 70
        return request
    }

    @Test("RegisterHost stores the host and its capacity", arguments: ServiceBackend.all)
    func registerStores(backend: ServiceBackend) async throws {
        try await Self.withHostManager(backend) { fixture in
            let host = try await fixture.streamhost.registerHost(Self.registration("host-a"))
            #expect(host.hostId == "host-a")
            #expect(host.address == "10.0.0.1:7107")
            #expect(host.datacentre == "dc1")
            #expect(host.slots == 4)
            #expect(host.cpuUnits == 8)
            #expect(host.memoryMib == 16_384)
            #expect(host.gpuScore == 70)
            #expect(host.registeredAtUnixMs > 0)
            #expect(host.lastSeenUnixMs == host.registeredAtUnixMs)

            let listed = try await fixture.operatorClient.listHosts(.init())
            #expect(listed.datacentre == "dc1")
            #expect(listed.hosts == [host])
        }
    }

    @Test("re-registering keeps registered_at and updates last_seen and capacity", arguments: ServiceBackend.all)
    func reRegistration(backend: ServiceBackend) async throws {
        try await Self.withHostManager(backend) { fixture in
            let first = try await fixture.streamhost.registerHost(Self.registration("host-a"))
            // The clock has millisecond resolution: make sure it moves.
            try await Task.sleep(for: .milliseconds(5))
            let second = try await fixture.streamhost.registerHost(
                Self.registration("host-a", address: "10.0.0.9:7107", slots: 12))
            #expect(second.registeredAtUnixMs == first.registeredAtUnixMs)
            #expect(second.lastSeenUnixMs > first.lastSeenUnixMs)
            #expect(second.slots == 12)
            #expect(second.address == "10.0.0.9:7107")

            let listed = try await fixture.operatorClient.listHosts(.init()).hosts
            #expect(listed == [second])
        }
    }

    @Test("a host of another data centre is FAILED_PRECONDITION and not stored", arguments: ServiceBackend.all)
    func wrongDatacentre(backend: ServiceBackend) async throws {
        try await Self.withHostManager(backend) { fixture in
            let streamhost = fixture.streamhost
            await expectStatus(.failedPrecondition) {
                try await streamhost.registerHost(Self.registration("host-a", datacentre: "dc2"))
            }
            await expectStatus(.failedPrecondition) {
                try await streamhost.registerHost(Self.registration("host-a", datacentre: ""))
            }
            let hosts = try await fixture.operatorClient.listHosts(.init()).hosts
            #expect(hosts.isEmpty)
        }
    }

    @Test("invalid registrations are INVALID_ARGUMENT", arguments: ServiceBackend.all)
    func invalidRegistrations(backend: ServiceBackend) async throws {
        try await Self.withHostManager(backend) { fixture in
            let streamhost = fixture.streamhost
            var hugeMemory = Self.registration("host-a")
            hugeMemory.memoryMib = UInt64(Int64.max) + 1
            for request in [
                Self.registration("host-a", slots: 0), Self.registration("Host A"), Self.registration(""),
                Self.registration("host-a", address: ""), hugeMemory,
            ] {
                await expectStatus(.invalidArgument, "\(request)") { try await streamhost.registerHost(request) }
            }
            let hosts = try await fixture.operatorClient.listHosts(.init()).hosts
            #expect(hosts.isEmpty)
        }
    }

    @Test("ListHosts is ordered by host id", arguments: ServiceBackend.all)
    func listIsOrdered(backend: ServiceBackend) async throws {
        try await Self.withHostManager(backend) { fixture in
            for id in ["host-c", "host-a", "host-b"] {
                _ = try await fixture.streamhost.registerHost(Self.registration(id))
            }
            #expect(
                try await fixture.operatorClient.listHosts(.init()).hosts.map(\.hostId) == [
                    "host-a", "host-b", "host-c",
                ])
        }
    }

    @Test("CreateSession is UNIMPLEMENTED", arguments: ServiceBackend.all)
    func createSessionIsUnimplemented(backend: ServiceBackend) async throws {
        try await Self.withHostManager(backend) { fixture in
            let entitlement = Client(fixture.server.client(as: "entitlement"))
            var request = Skyport_Hostmgr_V1_CreateSessionRequest()
            request.appId = "app-1"
            request.userId = "user-1"
            await expectStatus(.unimplemented) { try await entitlement.createSession(request) }
        }
    }
}
