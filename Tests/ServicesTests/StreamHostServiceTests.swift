import SkyportProto
import SkyportRPC
import SkyportStorage
// `StreamHostService.init` and `Capacity` are internal: the service is only built by its specification.
@testable import StreamHostService
import Testing

@Suite("Stream host")
struct StreamHostServiceTests {
    typealias Client = Skyport_Streamhost_V1_StreamHostClient

    /// The capacity a host configured with these flags reports (parsed by the real schema; the TLS
    /// paths are required by the schema but not read here).
    static func capacity(_ flags: [String]) throws -> Capacity {
        let tls = ["--tls-cert", "/dev/null", "--tls-key", "/dev/null", "--tls-ca", "/dev/null"]
        let configuration = try StreamHost.specification.configSchema.parse(
            arguments: tls + ["--hostmgr", "127.0.0.1:7103"] + flags, environment: [:])
        return try Capacity(configuration: configuration)
    }

    /// The service over `store` with a session runtime that is never started (no instances, no packages):
    /// enough for status and access.
    static func service(store: StreamHostStore, capacity: Capacity) -> StreamHostService {
        let runtime = SessionRuntime(
            settings: SessionRuntime.Settings(
                capacity: capacity, packages: PackageCatalog(directory: "/nonexistent/packages"),
                dataDirectory: "/nonexistent/data"),
            store: store, outbox: EventOutbox(), logger: ServiceBackend.logger)
        return StreamHostService(
            store: store, capacity: capacity, advertiseAddress: "10.0.0.7:7107", runtime: runtime,
            clientAddress: { "10.0.0.7:7108" })
    }

    static func withStreamHost(
        _ backend: ServiceBackend, _ body: (_ store: StreamHostStore, _ server: InProcessServer) async throws -> Void
    ) async throws {
        try await backend.withDatabase(migrations: StreamHostStore.migrations) { db in
            let store = StreamHostStore(database: db)
            let service = Self.service(
                store: store, capacity: try Self.capacity(["--datacentre", "dc7", "--slots", "6"]))
            let server = InProcessServer(services: [service], policy: StreamHost.accessPolicy)
            try await body(store, server)
        }
    }

    @Test("recordStart creates the identity once and counts starts", arguments: ServiceBackend.all)
    func recordStartCounts(backend: ServiceBackend) async throws {
        try await Self.withStreamHost(backend) { store, _ in
            await #expect(throws: StorageError.self) { try await store.identity() }

            let first = try await store.recordStart(now: 1_000)
            #expect(first.startCount == 1)
            #expect(first.firstStartedAtMilliseconds == 1_000)
            #expect(first.registeredAtMilliseconds == 0)
            #expect(first.hostID.hasPrefix("host-"))
            #expect(first.hostID.count == "host-".count + 24)
            #expect(first.hostID.dropFirst(5).allSatisfy { $0.isHexDigit && !$0.isUppercase })

            let second = try await store.recordStart(now: 2_000)
            let third = try await store.recordStart(now: 3_000)
            #expect(second.hostID == first.hostID)
            #expect(third.hostID == first.hostID)
            #expect(second.startCount == 2)
            #expect(third.startCount == 3)
            #expect(third.firstStartedAtMilliseconds == 1_000)
            #expect(try await store.identity() == third)

            try await store.recordRegistration(at: 4_000)
            #expect(try await store.identity().registeredAtMilliseconds == 4_000)
            #expect(try await store.identity().startCount == 3)
        }
    }

    @Test("every host's identity is its own", arguments: ServiceBackend.all)
    func identitiesDiffer(backend: ServiceBackend) async throws {
        let first = try await backend.withDatabase(migrations: StreamHostStore.migrations) { db in
            try await StreamHostStore(database: db).recordStart(now: 1)
        }
        let second = try await backend.withDatabase(migrations: StreamHostStore.migrations) { db in
            try await StreamHostStore(database: db).recordStart(now: 1)
        }
        #expect(first.hostID != second.hostID)
    }

    @Test("GetStatus reports the stored identity and the configured capacity", arguments: ServiceBackend.all)
    func statusReflectsTheStore(backend: ServiceBackend) async throws {
        try await Self.withStreamHost(backend) { store, server in
            let hostmgr = Client(server.client(as: "hostmgr"))
            // Before the first start (the runtime records it before serving) there is no identity.
            await expectStatus(.notFound) { try await hostmgr.getStatus(.init()) }

            let started = try await store.recordStart(now: 1_700_000_000_000)
            try await store.recordStart(now: 1_700_000_100_000)
            let status = try await hostmgr.getStatus(.init())
            #expect(status.hostId == started.hostID)
            #expect(status.startCount == 2)
            #expect(status.firstStartedAtUnixMs == 1_700_000_000_000)
            #expect(status.registeredAtUnixMs == 0)
            #expect(status.datacentre == "dc7")
            #expect(status.slots == 6)
            #expect(status.address == "10.0.0.7:7107")

            try await store.recordRegistration(at: 1_700_000_200_000)
            let registered = try await Client(server.client(as: InProcessServer.operatorIdentity)).getStatus(.init())
            #expect(registered.registeredAtUnixMs == 1_700_000_200_000)
            #expect(registered.hostId == started.hostID)
        }
    }

    @Test("capacity comes from configuration, and zero slots are refused")
    func capacityFromConfiguration() throws {
        let defaults = try Self.capacity([])
        #expect(defaults.datacentre == "dc1")
        #expect(defaults.slots == 4)
        let custom = try Self.capacity(["--slots", "2", "--gpu-score", "90"])
        #expect(custom.slots == 2)
        #expect(custom.gpuScore == 90)
        #expect(throws: (any Error).self) { try Self.capacity(["--slots", "0"]) }
    }

    @Test(
        "the event outbox keeps events in order, with their state, until they are deleted",
        arguments: ServiceBackend.all)
    func outboxKeepsOrder(backend: ServiceBackend) async throws {
        try await backend.withDatabase(migrations: StreamHostStore.migrations) { db in
            let store = StreamHostStore(database: db)
            func event(_ kind: Skyport_Hostmgr_V1_HostEvent.Kind, _ session: String, state: [UInt8]? = nil)
                -> Skyport_Hostmgr_V1_HostEvent
            {
                var event = Skyport_Hostmgr_V1_HostEvent()
                event.kind = kind
                event.instanceId = "inst-1"
                event.sessionId = session
                event.appId = "demo"
                event.versionId = "v1"
                event.atUnixMs = 42
                event.reason = session.isEmpty ? "" : "client left"
                if let state {
                    event.savedState = state
                    event.stateSaved = true
                }
                return event
            }
            try await store.appendEvents([event(.instanceStarted, ""), event(.sessionConnected, "s1")])
            try await store.appendEvents([event(.sessionEnded, "s1", state: [1, 2, 3])])
            let pending = try await store.pendingEvents(limit: 10)
            #expect(pending.map(\.event.kind) == [.instanceStarted, .sessionConnected, .sessionEnded])
            #expect(pending.map(\.sequence) == pending.map(\.sequence).sorted())
            #expect(pending[2].event.savedState == [1, 2, 3])
            #expect(pending[2].event.stateSaved)
            #expect(!pending[1].event.stateSaved)
            #expect(pending[2].event.reason == "client left")

            try await store.deleteEvents(through: pending[1].sequence)
            #expect(try await store.pendingEvents(limit: 10).map(\.sequence) == [pending[2].sequence])
            // Sequences are never reused, so event ids stay unique after deletions.
            try await store.deleteEvents(through: pending[2].sequence)
            try await store.appendEvents([event(.instanceEnded, "")])
            let later = try await store.pendingEvents(limit: 10)
            #expect(later.count == 1)
            #expect(later[0].sequence > pending[2].sequence)
        }
    }

    @Test("only host management provisions, starts and stops; the operator may look", arguments: ServiceBackend.all)
    func accessToInstances(backend: ServiceBackend) async throws {
        try await Self.withStreamHost(backend) { store, server in
            try await store.recordStart(now: 1)
            let operator_ = Client(server.client(as: InProcessServer.operatorIdentity))
            #expect(try await operator_.listInstances(.init()).instances.isEmpty)
            await expectStatus(.permissionDenied) { try await operator_.provision(.init()) }
            await expectStatus(.permissionDenied) { try await operator_.startInstance(.init()) }
            await expectStatus(.permissionDenied) { try await operator_.stopInstance(.init()) }
            let hostmgr = Client(server.client(as: "hostmgr"))
            // Checked before anything runs: a bad request, an unknown instance.
            await expectStatus(.invalidArgument) { try await hostmgr.provision(.init()) }
            var stop = Skyport_Streamhost_V1_StopInstanceRequest()
            stop.instanceId = "inst-nope"
            await expectStatus(.notFound) { try await hostmgr.stopInstance(stop) }
            let status = try await hostmgr.getStatus(.init())
            #expect(status.clientAddress == "10.0.0.7:7108")
            #expect(status.freeSlots == 6)
        }
    }
}
