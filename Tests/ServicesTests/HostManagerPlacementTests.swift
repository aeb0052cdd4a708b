@testable import HostManagerService
import Prometheus
import SkyportProto
import SkyportRPC
import SkyportService
import SkyportStorage
import SkyportTokens
import Testing

/// Redemption, placement, heartbeats, events, versions and the buffer pool: the real
/// `HostManagerService` over in-process RPC, with `FakeStreamHost`s as its hosts and, for the
/// multi-data-centre cases, a second real host management (`dc2`) as its peer.
@Suite("Host management: placement, hosts and versions")
struct HostManagerPlacementTests {
    typealias Client = Skyport_Hostmgr_V1_HostManagerClient
    typealias AppLaunch = Skyport_Hostmgr_V1_AppLaunch

    /// One data centre's host management, its stream hosts and its metrics.
    struct DataCentre: Sendable {
        let name: String
        let database: Database
        let service: HostManagerService
        let server: InProcessServer
        let links: InProcessHostManagerLinks
        let registry: PrometheusCollectorRegistry

        func client(as identity: String?) -> Client { Client(self.server.client(as: identity)) }
        var entitlement: Client { self.client(as: "entitlement") }
        var redemption: Client { self.client(as: "redemption") }
        var streamhost: Client { self.client(as: "streamhost") }
        var operatorClient: Client { self.client(as: InProcessServer.operatorIdentity) }

        /// One maintenance pass, as the loop makes every tick.
        func maintain() async {
            await MaintenanceLoop(service: self.service, tick: .seconds(1)).pass()
        }

        /// Fetches the peers' capacity now, as the peer exchange does every interval.
        func exchangeCapacity() async {
            let exchange = PeerExchange(service: self.service, interval: .seconds(5))
            for peer in self.links.peerDatacentres { await exchange.refresh(peer) }
        }

        /// Serves and registers a stream host holding `packages` (`app/version`).
        @discardableResult
        func addHost(_ hostID: String, slots: UInt32 = 4, packages: [String] = ["app-1/1.0.0"]) async throws
            -> FakeStreamHost
        {
            let host = FakeStreamHost(hostID: hostID, datacentre: self.name)
            self.links.serve(host)
            try await self.register(host, slots: slots, packages: packages)
            return host
        }

        /// Registers `host` (again) with `slots` and `packages`.
        func register(_ host: FakeStreamHost, slots: UInt32, packages: [String] = ["app-1/1.0.0"]) async throws {
            var request = Skyport_Hostmgr_V1_RegisterHostRequest()
            request.hostId = host.hostID
            request.address = host.address
            request.datacentre = self.name
            request.slots = slots
            request.cpuUnits = 64
            request.memoryMib = 65_536
            request.gpuScore = 50
            request.packages = packages.map { package in
                var installed = Skyport_Hostmgr_V1_InstalledPackage()
                let parts = package.split(separator: "/")
                installed.appId = String(parts[0])
                installed.versionId = String(parts[1])
                return installed
            }
            _ = try await self.streamhost.registerHost(request)
        }

        /// Creates a session as entitlement does.
        func createSession(_ app: AppLaunch? = nil, user: String = "user-1", group: String = "") async throws
            -> Skyport_Hostmgr_V1_CreateSessionResponse
        {
            let app = app ?? HostManagerPlacementTests.app(home: self.name)
            var request = Skyport_Hostmgr_V1_CreateSessionRequest()
            request.appId = app.appId
            request.developerId = app.developerId
            request.userId = user
            request.groupId = group
            request.app = app
            return try await self.entitlement.createSession(request)
        }

        /// Redeems a session here as a redemption node does (the home from its verified token).
        func redeem(_ session: Skyport_Hostmgr_V1_CreateSessionResponse, home: String? = nil) async throws
            -> Skyport_Hostmgr_V1_SessionPlacement
        {
            try await self.redemption.redeemSession(
                HostManagerPlacementTests.redeemRequest(session, home: home ?? self.name))
        }

        /// ListSessions by session id.
        func sessions() async throws -> [String: Skyport_Hostmgr_V1_SessionInfo] {
            let listed = try await self.operatorClient.listSessions(.init()).sessions
            return Dictionary(listed.map { ($0.sessionId, $0) }, uniquingKeysWith: { first, _ in first })
        }

        /// The sessions the store counts on `instanceID` (its taken seats).
        func seatsTaken(on instanceID: String) async throws -> Int64 {
            try #require(
                try await self.database.query("SELECT sessions FROM instances WHERE instance_id = ?", [instanceID])
                    .first
            ).decode(Int64.self, "sessions")
        }

        /// The usage records written, by record id.
        func usageRecords() async throws -> [String] {
            try await self.database.query("SELECT record_id FROM usage_outbox ORDER BY record_id").map {
                try $0.decode(String.self, "record_id")
            }
        }

        /// The value of one metric series (`name` or `name{label="value"}`), 0 when not reported.
        func metric(_ series: String) -> Double {
            for line in self.registry.emitToString().split(separator: "\n") where line.hasPrefix(series + " ") {
                return Double(line.dropFirst(series.count + 1)) ?? .nan
            }
            return 0
        }
    }

    static func make(
        _ name: String, database: Database, peers: [String] = [],
        configure: (inout HostManagerService.Settings) -> Void = { _ in }
    ) -> DataCentre {
        var settings = HostManagerService.Settings(datacentre: name)
        configure(&settings)
        let links = InProcessHostManagerLinks(peers: peers)
        let registry = PrometheusCollectorRegistry()
        let service = HostManagerService(
            database: database, settings: settings, links: links,
            metrics: HostManagerMetrics(factory: PrometheusMetricsFactory(registry: registry)),
            logger: ServiceBackend.logger)
        return DataCentre(
            name: name, database: database, service: service,
            server: InProcessServer(services: [service], policy: HostManager.accessPolicy), links: links,
            registry: registry)
    }

    static func withDataCentre(
        _ backend: ServiceBackend, configure: (inout HostManagerService.Settings) -> Void = { _ in },
        _ body: (DataCentre) async throws -> Void
    ) async throws {
        try await backend.withDatabase(migrations: HostManagerMigrations.all) { db in
            try await body(Self.make("dc1", database: db, configure: configure))
        }
    }

    /// Host managements of `dc1` and `dc2`, each the other's peer.
    static func withTwoDataCentres(
        _ backend: ServiceBackend, _ body: (DataCentre, DataCentre) async throws -> Void
    ) async throws {
        try await backend.withDatabase(migrations: HostManagerMigrations.all) { db1 in
            try await backend.withDatabase(migrations: HostManagerMigrations.all) { db2 in
                let dc1 = Self.make("dc1", database: db1, peers: ["dc2"])
                let dc2 = Self.make("dc2", database: db2, peers: ["dc1"])
                dc1.links.link("dc2", to: dc2.server)
                dc2.links.link("dc1", to: dc1.server)
                try await body(dc1, dc2)
            }
        }
    }

    /// A version of `app-1` of `dev_a`, as entitlement describes it.
    static func app(version: String = "1.0.0", seats: UInt32 = 1, home: String = "dc1") -> AppLaunch {
        var app = HostManagerServiceTests.app(version: version, home: home)
        app.sessionsPerInstance = seats
        return app
    }

    static func redeemRequest(_ session: Skyport_Hostmgr_V1_CreateSessionResponse, home: String)
        -> Skyport_Hostmgr_V1_RedeemSessionRequest
    {
        var request = Skyport_Hostmgr_V1_RedeemSessionRequest()
        request.sessionId = session.sessionId
        request.tokenHash = SessionToken.hash(session.tokenText)
        request.homeDatacentre = home
        return request
    }

    static func event(
        _ id: String, _ kind: Skyport_Hostmgr_V1_HostEvent.Kind, session: String, state: [UInt8]? = nil,
        reason: String = ""
    ) -> Skyport_Hostmgr_V1_HostEvent {
        var event = Skyport_Hostmgr_V1_HostEvent()
        event.eventId = id
        event.kind = kind
        event.sessionId = session
        event.appId = "app-1"
        event.versionId = "1.0.0"
        event.atUnixMs = ServiceSupport.nowUnixMilliseconds()
        event.reason = reason
        if let state {
            event.savedState = state
            event.stateSaved = true
        }
        return event
    }

    static func events(from host: String, _ events: [Skyport_Hostmgr_V1_HostEvent])
        -> Skyport_Hostmgr_V1_ReportEventsRequest
    {
        var request = Skyport_Hostmgr_V1_ReportEventsRequest()
        request.hostId = host
        request.events = events
        return request
    }

    /// A column of one row of `table` whose `key` column is `value`.
    static func column(
        _ column: String, of table: String, where key: String, is value: String, in database: Database
    ) async throws -> String? {
        try await database.query("SELECT \(column) FROM \(table) WHERE \(key) = ?", [value]).first.map {
            try $0.decode(String.self, column)
        }
    }

    // MARK: Redemption

    @Test(
        "redeeming claims once and launches on a host; a second redemption is FAILED_PRECONDITION",
        arguments: ServiceBackend.all)
    func redeemLaunches(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost("host-a", slots: 8)
            let session = try await dc.createSession()
            let placed = try await dc.redeem(session)
            #expect(placed.sessionId == session.sessionId)
            #expect(placed.datacentre == "dc1")
            #expect(placed.hostId == "host-a")
            #expect(placed.launched)
            #expect(placed.reason == "launched")
            #expect(placed.appId == "app-1")
            #expect(placed.versionId == "1.0.0")
            #expect(placed.clientAddress == "host-a.dc1.test:7108")
            #expect(placed.sessionCredential.count == 32)
            #expect(placed.connectByUnixMs > ServiceSupport.nowUnixMilliseconds())

            let provision = try #require(host.provisions.first)
            #expect(host.provisions.count == 1)
            #expect(provision.sessionId == session.sessionId)
            #expect(provision.userId == "user-1")
            #expect(provision.instanceId == "", "a launch names no instance")
            #expect(provision.connectWithinSeconds == 30)
            #expect(provision.app?.appId == "app-1")
            #expect(provision.app?.versionId == "1.0.0")
            #expect(provision.app?.launchCommand == "bin/demo --serve")
            #expect(provision.app?.sessionsPerInstance == 1)
            #expect(provision.priorState.isEmpty)
            #expect(host.instances.map(\.instanceId) == [placed.instanceId])

            await expectStatus(.failedPrecondition) { try await dc.redeem(session) }
            #expect(host.provisions.count == 1)

            let listed = try await dc.sessions()
            #expect(listed.count == 1)
            #expect(listed[session.sessionId]?.state == "provisioned")
            #expect(listed[session.sessionId]?.hostId == "host-a")
            #expect(listed[session.sessionId]?.instanceId == placed.instanceId)
            let capacity = try await dc.operatorClient.getCapacity(.init())
            #expect(capacity.activeSessions == 1)
            #expect(capacity.freeSlots == 7)
            #expect(dc.metric("skyport_hostmgr_placements_total{reason=\"launch\"}") == 1)

            // A token that is not the session's is NOT_FOUND, and claims nothing.
            var forged = Self.redeemRequest(try await dc.createSession(user: "user-2"), home: "dc1")
            forged.tokenHash = SessionToken.hash("skt1.forged")
            await expectStatus(.notFound) { try await dc.redemption.redeemSession(forged) }
            // A home that is not a peer is FAILED_PRECONDITION.
            await expectStatus(.failedPrecondition) {
                try await dc.redeem(try await dc.createSession(user: "user-3"), home: "dc9")
            }
            #expect(host.provisions.count == 1)
        }
    }

    @Test("100 concurrent redemptions of one token: exactly one places the session", arguments: ServiceBackend.all)
    func concurrentRedemptions(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost("host-a", slots: 8)
            let session = try await dc.createSession()
            let redemption = dc.redemption
            let request = Self.redeemRequest(session, home: "dc1")
            let outcomes = await withTaskGroup(of: Status.Code.self) { group in
                for _ in 0..<100 {
                    group.addTask {
                        do {
                            _ = try await redemption.redeemSession(request)
                            return .ok
                        } catch let error as RPCError {
                            return error.code
                        } catch {
                            return .unknown
                        }
                    }
                }
                return await group.reduce(into: [Status.Code: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(outcomes == [.ok: 1, .failedPrecondition: 99])
            #expect(host.provisions.map(\.sessionId) == [session.sessionId])
            #expect(try await dc.operatorClient.getCapacity(.init()).activeSessions == 1)
        }
    }

    @Test(
        "sessions are deleted an hour after their token expired, redeemed or not, in chunks; later ones stay",
        arguments: ServiceBackend.all)
    func expiredSessionsArePurged(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            try await dc.addHost("host-a", slots: 8)
            let redeemed = try await dc.createSession()
            _ = try await dc.redeem(redeemed)
            let unredeemed = try await dc.createSession(user: "user-2")
            func stored() async throws -> Set<String> {
                Set(
                    try await dc.database.query("SELECT session_id FROM sessions").map {
                        try $0.decode(String.self, "session_id")
                    })
            }
            #expect(try await stored() == [redeemed.sessionId, unredeemed.sessionId])
            let loop = MaintenanceLoop(service: dc.service, tick: .seconds(1))
            // Both tokens (60 s) are still valid, or expired less than an hour ago: kept.
            let now = ServiceSupport.nowUnixMilliseconds()
            #expect(try await loop.purgeExpiredSessions(now: now) == 0)
            #expect(try await loop.purgeExpiredSessions(now: now + 3_600_000) == 0)
            #expect(try await stored().count == 2)
            // In chunks, up to a limit: one now, the other (claimed or not) next time; counted as they go.
            #expect(try await loop.purgeExpiredSessions(now: now + 3_720_000, chunk: 1, limit: 1) == 1)
            #expect(try await stored().count == 1)
            #expect(dc.metric("skyport_hostmgr_sessions_purged_total") == 1)
            #expect(try await loop.purgeExpiredSessions(now: now + 3_720_000, chunk: 1, limit: 5) == 1)
            #expect(try await stored().isEmpty)
            #expect(dc.metric("skyport_hostmgr_sessions_purged_total") == 2)
            // A deleted session cannot be redeemed.
            let error = await #expect(throws: RPCError.self) { try await dc.redeem(unredeemed) }
            #expect(error?.code == .notFound)
        }
    }

    // MARK: Placement order

    @Test(
        "a warm instance from the buffer pool is taken first, and the next pass refills the pool",
        arguments: ServiceBackend.all)
    func warmInstanceFirst(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost("host-a")
            var target = Skyport_Hostmgr_V1_BufferTarget()
            target.appId = "app-1"
            target.versionId = "1.0.0"
            target.target = 1
            // Only a deployed version can be kept warm.
            await expectStatus(.failedPrecondition) { try await dc.operatorClient.setBufferTarget(target) }
            var deploy = Skyport_Hostmgr_V1_DeployVersionRequest()
            deploy.app = Self.app()
            _ = try await dc.entitlement.deployVersion(deploy)
            #expect(try await dc.operatorClient.setBufferTarget(target).warm == 0)

            await dc.maintain()
            #expect(host.starts.count == 1)
            #expect(host.starts.first?.app?.versionId == "1.0.0")
            let warm = try #require(host.instances.first).instanceId
            #expect(try await dc.operatorClient.listBufferTargets(.init()).targets.map(\.warm) == [1])
            // A pass with the pool full starts nothing.
            await dc.maintain()
            #expect(host.starts.count == 1)

            let placed = try await dc.redeem(try await dc.createSession())
            #expect(placed.reason == "warm instance")
            #expect(!placed.launched)
            #expect(placed.instanceId == warm)
            #expect(host.provisions.map(\.instanceId) == [warm])
            #expect(host.launches == 0)
            #expect(dc.metric("skyport_hostmgr_placements_total{reason=\"warm\"}") == 1)
            #expect(try await dc.operatorClient.listBufferTargets(.init()).targets.map(\.warm) == [0])

            await dc.maintain()
            #expect(host.starts.count == 2)
            #expect(try await dc.operatorClient.listBufferTargets(.init()).targets.map(\.warm) == [1])
            let refilled = try await dc.redeem(try await dc.createSession(user: "user-2"))
            #expect(refilled.reason == "warm instance")
            #expect(refilled.instanceId != warm)
            #expect(host.launches == 0)
            #expect(dc.metric("skyport_hostmgr_buffer_instances_total{action=\"started\"}") == 2)
        }
    }

    @Test(
        "sessions_per_instance 2: two sessions share an instance, the third launches another",
        arguments: ServiceBackend.all)
    func sharedInstances(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost("host-a")
            let app = Self.app(seats: 2)
            let first = try await dc.redeem(try await dc.createSession(app, user: "user-1"))
            let second = try await dc.redeem(try await dc.createSession(app, user: "user-2"))
            let third = try await dc.redeem(try await dc.createSession(app, user: "user-3"))
            #expect(first.launched)
            #expect(!second.launched)
            #expect(second.reason == "free seat on a shared instance")
            #expect(second.instanceId == first.instanceId)
            #expect(host.provisions[1].instanceId == first.instanceId)
            #expect(third.launched)
            #expect(third.instanceId != first.instanceId)
            #expect(host.launches == 2)
            #expect(host.instances.map(\.sessionIds.count).sorted() == [1, 2])
            #expect(try await dc.operatorClient.getCapacity(.init()).activeSessions == 3)
        }
    }

    @Test(
        "a seat on an instance the host no longer runs: the placement written with the claim goes, the session launches",
        arguments: ServiceBackend.all)
    func reservedSeatOnAGoneInstance(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost("host-a")
            let app = Self.app(seats: 2)
            let first = try await dc.redeem(try await dc.createSession(app, user: "user-1"))
            // The instance dies without an event: the store still offers its second seat.
            host.crash(first.instanceId)
            let second = try await dc.redeem(try await dc.createSession(app, user: "user-2"))
            #expect(host.provisions.map(\.instanceId) == ["", first.instanceId, ""])
            #expect(second.launched)
            #expect(second.instanceId != first.instanceId)
            // One placement for the session, on the instance it runs on; the seat went back.
            let placements = try await dc.database.query(
                "SELECT instance_id FROM placements WHERE session_id = ?", [second.sessionId]
            ).map { try $0.decode(String.self, "instance_id") }
            #expect(placements == [second.instanceId])
            #expect(try await dc.sessions()[second.sessionId]?.state == "provisioned")
            #expect(try await dc.seatsTaken(on: first.instanceId) == 1)
        }
    }

    @Test(
        "asked for a new instance, a host may seat the session on one of its own, and the reason says which",
        arguments: ServiceBackend.all)
    func hostSeatsOnItsOwnInstance(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost("host-a")
            // The host runs a 3-seat instance of a version host management counts as single-seat: the store
            // never offers a seat on it, the host does.
            let own = host.run(appID: "app-1", versionID: "1.0.0", seats: 3)
            host.seatOnOwnInstances(joiningStarting: true)
            let joined = try await dc.redeem(try await dc.createSession())
            #expect(!joined.launched)
            #expect(joined.instanceId == own.instanceId)
            #expect(joined.reason == "joined an instance being launched")
            host.seatOnOwnInstances(joiningStarting: false)
            let seated = try await dc.redeem(try await dc.createSession(user: "user-2"))
            #expect(!seated.launched)
            #expect(seated.instanceId == own.instanceId)
            #expect(seated.reason == "free seat the host found")
            #expect(host.launches == 0)
            #expect(try await dc.seatsTaken(on: own.instanceId) == 2)
        }
    }

    @Test("a grouped session goes to its group's host, not the emptiest one", arguments: ServiceBackend.all)
    func groupGoesTogether(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let hostA = try await dc.addHost("host-a")
            let hostB = try await dc.addHost("host-b")
            let first = try await dc.redeem(try await dc.createSession(user: "user-1", group: "party-1"))
            #expect(first.hostId == "host-a")
            #expect(first.reason == "launched")
            // host-b now has more free slots; the group still wins.
            let second = try await dc.redeem(try await dc.createSession(user: "user-2", group: "party-1"))
            #expect(second.hostId == "host-a")
            #expect(second.reason == "launched next to its group")
            let loner = try await dc.redeem(try await dc.createSession(user: "user-3"))
            #expect(loner.hostId == "host-b")
            #expect(hostA.provisions.count == 2)
            #expect(hostB.provisions.count == 1)
            #expect(try await dc.operatorClient.getCapacity(.init()).activeGroups == ["party-1"])
        }
    }

    @Test("a group playing only in a peer data centre takes its new sessions there", arguments: ServiceBackend.all)
    func groupInPeer(backend: ServiceBackend) async throws {
        try await Self.withTwoDataCentres(backend) { dc1, dc2 in
            let here = try await dc1.addHost("host-a")
            let there = try await dc2.addHost("host-b")
            let member = try await dc2.redeem(
                try await dc2.createSession(Self.app(home: "dc2"), user: "user-1", group: "party-7"))
            #expect(member.datacentre == "dc2")

            await dc1.exchangeCapacity()
            #expect(dc1.service.peerCapacity.all["dc2"]?.activeGroups == ["party-7"])
            let placed = try await dc1.redeem(try await dc1.createSession(user: "user-2", group: "party-7"))
            #expect(placed.datacentre == "dc2")
            #expect(placed.hostId == "host-b")
            #expect(placed.reason.hasPrefix("group party-7 plays in dc2"))
            #expect(placed.reason.hasSuffix("launched next to its group"))
            #expect(here.provisions.isEmpty)
            #expect(there.provisions.map(\.sessionId) == [member.sessionId, placed.sessionId])
            #expect(dc1.metric("skyport_hostmgr_placements_total{reason=\"peer\"}") == 1)
            // dc2 runs it for its home, dc1 (where the user's state lives).
            #expect(
                try await Self.column(
                    "home_datacentre", of: "placements", where: "session_id", is: placed.sessionId, in: dc2.database)
                    == "dc1")

            // Another group, or none, stays here.
            let other = try await dc1.redeem(try await dc1.createSession(user: "user-3", group: "party-8"))
            #expect(other.datacentre == "dc1")
            #expect(here.provisions.map(\.sessionId) == [other.sessionId])
        }
    }

    @Test("with no room here the session is placed at the peer with room", arguments: ServiceBackend.all)
    func spillToPeer(backend: ServiceBackend) async throws {
        try await Self.withTwoDataCentres(backend) { dc1, dc2 in
            let here = try await dc1.addHost("host-a", slots: 1)
            let there = try await dc2.addHost("host-b", slots: 4)
            let first = try await dc1.redeem(try await dc1.createSession(user: "user-1"))
            #expect(first.datacentre == "dc1")

            await dc1.exchangeCapacity()
            #expect(dc1.service.peerCapacity.all["dc2"]?.freeSlots == 4)
            let second = try await dc1.redeem(try await dc1.createSession(user: "user-2"))
            #expect(second.datacentre == "dc2")
            #expect(second.hostId == "host-b")
            #expect(second.reason.hasPrefix("dc1 has no room; dc2 has"))
            #expect(here.provisions.count == 1)
            #expect(there.provisions.map(\.sessionId) == [second.sessionId])
            #expect(try await dc2.sessions()[second.sessionId]?.state == "provisioned")
            #expect(dc1.metric("skyport_hostmgr_placements_total{reason=\"peer\"}") == 1)

            // A peer places what it is asked to place there, and never forwards it further: with dc2 full
            // and room in dc1 again, dc2 still answers RESOURCE_EXHAUSTED.
            try await dc1.register(here, slots: 4)
            try await dc2.register(there, slots: 1)
            await dc2.exchangeCapacity()
            #expect(dc2.service.peerCapacity.all["dc1"]?.freeSlots == 3)
            var claimed = Skyport_Hostmgr_V1_ClaimSessionResponse()
            claimed.sessionId = "ses_forwarded"
            claimed.userId = "user-9"
            claimed.appId = "app-1"
            claimed.developerId = "dev_a"
            claimed.homeDatacentre = "dc1"
            claimed.app = Self.app()
            var place = Skyport_Hostmgr_V1_PlaceSessionRequest()
            place.session = claimed
            place.fromDatacentre = "dc1"
            await expectStatus(.resourceExhausted) { try await dc2.client(as: "hostmgr").placeSession(place) }
            #expect(here.provisions.count == 1)
            #expect(there.provisions.count == 1)
        }
    }

    @Test("a session homed in dc2 and redeemed in dc1 is claimed at dc2, once", arguments: ServiceBackend.all)
    func claimAtHome(backend: ServiceBackend) async throws {
        try await Self.withTwoDataCentres(backend) { dc1, dc2 in
            let here = try await dc1.addHost("host-a")
            let there = try await dc2.addHost("host-b")
            let session = try await dc2.createSession(Self.app(home: "dc2"))
            let placed = try await dc1.redeem(session, home: "dc2")
            #expect(placed.datacentre == "dc1")
            #expect(placed.hostId == "host-a")
            #expect(
                try await Self.column(
                    "state", of: "sessions", where: "session_id", is: session.sessionId, in: dc2.database)
                    == "claimed")
            #expect(
                try await Self.column(
                    "claimed_by", of: "sessions", where: "session_id", is: session.sessionId, in: dc2.database)
                    == "service:hostmgr@dc1")
            #expect(
                try await Self.column(
                    "home_datacentre", of: "placements", where: "session_id", is: session.sessionId, in: dc1.database)
                    == "dc2")
            await expectStatus(.failedPrecondition) { try await dc2.redeem(session) }
            await expectStatus(.failedPrecondition) { try await dc1.redeem(session, home: "dc2") }
            #expect(here.provisions.map(\.sessionId) == [session.sessionId])
            #expect(there.provisions.isEmpty)
        }
    }

    @Test(
        "a session that cannot be placed after its claim gets its claim back, at home or at the home peer",
        arguments: ServiceBackend.all)
    func unplacedClaimIsReleased(backend: ServiceBackend) async throws {
        try await Self.withTwoDataCentres(backend) { dc1, dc2 in
            // Free slots, but no host holds the package: the claim succeeds, the placement does not.
            let here = try await dc1.addHost("host-a", slots: 4, packages: [])
            let local = try await dc1.createSession(user: "user-1")
            await expectStatus(.resourceExhausted) { try await dc1.redeem(local) }
            #expect(
                try await Self.column(
                    "state", of: "sessions", where: "session_id", is: local.sessionId, in: dc1.database)
                    == "created")
            #expect(here.provisions.isEmpty)

            // Homed in dc2, redeemed in dc1: dc1 claims at dc2, fails to place, and releases at dc2.
            let remote = try await dc2.createSession(Self.app(home: "dc2"), user: "user-2")
            await expectStatus(.resourceExhausted) { try await dc1.redeem(remote, home: "dc2") }
            #expect(
                try await Self.column(
                    "state", of: "sessions", where: "session_id", is: remote.sessionId, in: dc2.database) == "created")

            // Once the host holds the package, the same token places.
            try await dc1.addHost("host-a", slots: 4)
            let placed = try await dc1.redeem(local)
            #expect(placed.datacentre == "dc1")
        }
    }

    @Test(
        "no room anywhere: RESOURCE_EXHAUSTED before the claim, and the token stays redeemable",
        arguments: ServiceBackend.all)
    func noRoomAnywhere(backend: ServiceBackend) async throws {
        try await Self.withTwoDataCentres(backend) { dc1, dc2 in
            let here = try await dc1.addHost("host-a", slots: 1)
            try await dc2.addHost("host-b", slots: 1)
            let first = try await dc1.redeem(try await dc1.createSession(user: "user-1"))
            _ = try await dc2.redeem(try await dc2.createSession(Self.app(home: "dc2"), user: "user-2"))
            await dc1.exchangeCapacity()
            #expect(dc1.service.peerCapacity.all["dc2"]?.freeSlots == 0)

            let waiting = try await dc1.createSession(user: "user-3")
            await expectStatus(.resourceExhausted) { try await dc1.redeem(waiting) }
            #expect(
                try await Self.column(
                    "state", of: "sessions", where: "session_id", is: waiting.sessionId, in: dc1.database)
                    == "created")
            #expect(here.provisions.count == 1)

            // The first session ends; its slot is free again and the same token now places.
            here.end(session: first.sessionId)
            let ended = try await dc1.streamhost.reportEvents(
                Self.events(
                    from: "host-a", [Self.event("ev-1", .sessionEnded, session: first.sessionId, reason: "client left")]
                ))
            #expect(ended.accepted == 1)
            let placed = try await dc1.redeem(waiting)
            #expect(placed.datacentre == "dc1")
            #expect(placed.instanceId == first.instanceId)
            #expect(placed.reason == "warm instance")
        }
    }

    // MARK: Heartbeats and lost hosts

    @Test(
        "a correction under load keeps the seat count of an instance with a young placement",
        arguments: ServiceBackend.all)
    func reconciliationKeepsSeatsInUse(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost("host-a")
            let app = Self.app(seats: 4)
            let old = try await dc.redeem(try await dc.createSession(app, user: "user-1"))
            let young = try await dc.redeem(try await dc.createSession(app, user: "user-2"))
            #expect(young.instanceId == old.instanceId)
            // The old session ended on the host, its event not here yet; a third seat is reserved for a
            // provision the host has not seen.
            try await dc.database.execute(
                "UPDATE placements SET placed_at_ms = placed_at_ms - 10000 WHERE session_id = ?", [old.sessionId])
            try await dc.database.execute("UPDATE instances SET started_at_ms = started_at_ms - 10000")
            host.end(session: old.sessionId)
            try await dc.database.execute(
                "UPDATE instances SET sessions = sessions + 1 WHERE instance_id = ?", [old.instanceId])
            #expect(try await dc.seatsTaken(on: old.instanceId) == 3)

            // A session missing from one heartbeat may have its end event on the way: only the next
            // heartbeat that misses it too corrects the store.
            #expect(!(try await dc.streamhost.heartbeat(host.heartbeat).reconciled))
            #expect(try await dc.sessions()[old.sessionId]?.state == "provisioned")
            #expect(try await dc.streamhost.heartbeat(host.heartbeat).reconciled)
            #expect(try await dc.sessions()[old.sessionId]?.endReason == "not on host")
            // The host reports one session, but the young placement's instance keeps the reserved seat.
            #expect(try await dc.seatsTaken(on: old.instanceId) == 2)

            // Once nothing on it is young, the count follows the host.
            try await dc.database.execute("UPDATE placements SET placed_at_ms = placed_at_ms - 10000")
            #expect(try await dc.streamhost.heartbeat(host.heartbeat).reconciled)
            #expect(try await dc.seatsTaken(on: old.instanceId) == 1)
        }
    }

    @Test(
        "a heartbeat that disagrees corrects the store from ListInstances; a matching one does not",
        arguments: ServiceBackend.all)
    func heartbeatReconciles(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost("host-a")
            let kept = try await dc.redeem(try await dc.createSession(user: "user-1"))
            let crashed = try await dc.redeem(try await dc.createSession(user: "user-2"))
            var response = try await dc.streamhost.heartbeat(host.heartbeat)
            #expect(!response.reconciled)
            #expect(response.intervalMs == 60_000)

            // The instance dies without an event. Within seconds of placing, a difference is a race and
            // left alone.
            host.crash(crashed.instanceId)
            response = try await dc.streamhost.heartbeat(host.heartbeat)
            #expect(!response.reconciled)
            #expect(try await dc.sessions()[crashed.sessionId]?.state == "provisioned")

            // Later it is corrected.
            try await dc.database.execute("UPDATE placements SET placed_at_ms = placed_at_ms - 10000")
            try await dc.database.execute("UPDATE instances SET started_at_ms = started_at_ms - 10000")
            response = try await dc.streamhost.heartbeat(host.heartbeat)
            #expect(response.reconciled)
            let sessions = try await dc.sessions()
            #expect(sessions[crashed.sessionId]?.state == "ended")
            #expect(sessions[crashed.sessionId]?.endReason == "not on host")
            #expect(sessions[kept.sessionId]?.state == "provisioned")
            #expect(
                try await dc.usageRecords() == ["instance:\(crashed.instanceId)", "session:\(crashed.sessionId)"])
            #expect(try await dc.operatorClient.getCapacity(.init()).activeSessions == 1)
            #expect(dc.metric("skyport_hostmgr_reconciliations_total") == 1)

            response = try await dc.streamhost.heartbeat(host.heartbeat)
            #expect(!response.reconciled)
            #expect(dc.metric("skyport_hostmgr_reconciliations_total") == 1)

            // An instance the host runs and the store lacks is adopted (a warm one here), and used.
            var start = Skyport_Streamhost_V1_StartInstanceRequest()
            start.app = HostManagerService.spec(Self.app())
            let orphan = try await dc.links.streamHost(at: host.address).startInstance(start)
            response = try await dc.streamhost.heartbeat(host.heartbeat)
            #expect(response.reconciled)
            #expect(try await dc.operatorClient.getCapacity(.init()).warmInstances == 1)
            let placed = try await dc.redeem(try await dc.createSession(user: "user-3"))
            #expect(placed.instanceId == orphan.instanceId)
            #expect(placed.reason == "warm instance")
            #expect(!(try await dc.streamhost.heartbeat(host.heartbeat).reconciled))

            await expectStatus(.notFound) {
                var unknown = host.heartbeat
                unknown.hostId = "host-z"
                return try await dc.streamhost.heartbeat(unknown)
            }
        }
    }

    @Test(
        "a host silent for 3 intervals is lost: its sessions are lost with usage records",
        arguments: ServiceBackend.all)
    func lostHost(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend, configure: { $0.heartbeatInterval = .seconds(1) }) { dc in
            let hostA = try await dc.addHost("host-a")
            let hostB = try await dc.addHost("host-b")
            let lost = try await dc.redeem(try await dc.createSession(user: "user-1"))
            let kept = try await dc.redeem(try await dc.createSession(user: "user-2"))
            #expect(lost.hostId == "host-a")
            #expect(kept.hostId == "host-b")

            try await dc.database.execute(
                "UPDATE hosts SET last_seen_ms = last_seen_ms - 10000 WHERE host_id = ?", ["host-a"])
            _ = try await dc.streamhost.heartbeat(hostB.heartbeat)
            await dc.maintain()

            let hosts = try await dc.operatorClient.listHosts(.init()).hosts
            #expect(hosts.map(\.state) == ["lost", "up"])
            #expect(hosts.first?.heartbeatIntervalMs == 1_000)
            let sessions = try await dc.sessions()
            #expect(sessions[lost.sessionId]?.state == "lost")
            #expect(sessions[lost.sessionId]?.endReason == "host lost")
            #expect(sessions[lost.sessionId]?.endedAtUnixMs ?? 0 > 0)
            #expect(sessions[kept.sessionId]?.state == "provisioned")
            #expect(try await dc.usageRecords() == ["instance:\(lost.instanceId)", "session:\(lost.sessionId)"])
            let developers = try await dc.database.query("SELECT DISTINCT developer_id FROM usage_outbox").map {
                try $0.decode(String.self, "developer_id")
            }
            #expect(developers == ["dev_a"])
            #expect(dc.metric("skyport_hostmgr_hosts_lost_total") == 1)
            #expect(dc.metric("skyport_hostmgr_sessions_lost_total") == 1)

            // Nothing new goes to the lost host; a second pass loses nothing more.
            let next = try await dc.redeem(try await dc.createSession(user: "user-3"))
            #expect(next.hostId == "host-b")
            #expect(hostA.provisions.count == 1)
            _ = try await dc.streamhost.heartbeat(hostB.heartbeat)
            await dc.maintain()
            #expect(dc.metric("skyport_hostmgr_hosts_lost_total") == 1)
            #expect(try await dc.operatorClient.getCapacity(.init()).hostsUp == 1)
        }
    }

    // MARK: Events and saved state

    @Test(
        "session events: saved state is kept at home for the user's next session; repeated events are ignored",
        arguments: ServiceBackend.all)
    func savedStateAtHome(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost("host-a")
            let first = try await dc.redeem(try await dc.createSession(user: "user-1"))
            #expect(host.provisions.last?.priorState == [])

            let connected = Self.event("ev-1", .sessionConnected, session: first.sessionId)
            let ended = Self.event(
                "ev-2", .sessionEnded, session: first.sessionId, state: [1, 2, 3], reason: "client left")
            var reported = try await dc.streamhost.reportEvents(Self.events(from: "host-a", [connected]))
            #expect(reported.accepted == 1)
            #expect(try await dc.sessions()[first.sessionId]?.state == "connected")
            host.end(session: first.sessionId)
            reported = try await dc.streamhost.reportEvents(Self.events(from: "host-a", [ended]))
            #expect(reported.accepted == 1)
            let session = try await dc.sessions()[first.sessionId]
            #expect(session?.state == "ended")
            #expect(session?.endReason == "client left")
            #expect(try await dc.usageRecords() == ["session:\(first.sessionId)"])

            // Delivered again (the host did not see the answer): nothing changes, not even the state.
            var again = ended
            again.savedState = [9, 9]
            again.atUnixMs += 1_000
            reported = try await dc.streamhost.reportEvents(Self.events(from: "host-a", [connected, again]))
            #expect(reported.accepted == 0)
            #expect(try await dc.service.states.load(appID: "app-1", userID: "user-1") == [1, 2, 3])

            let second = try await dc.redeem(try await dc.createSession(user: "user-1"))
            #expect(host.provisions.last?.sessionId == second.sessionId)
            #expect(host.provisions.last?.priorState == [1, 2, 3])
            let stranger = try await dc.redeem(try await dc.createSession(user: "user-2"))
            #expect(host.provisions.last?.sessionId == stranger.sessionId)
            #expect(host.provisions.last?.priorState == [])
        }
    }

    @Test("state saved where a session ran goes to its home data centre", arguments: ServiceBackend.all)
    func savedStateAcrossDatacentres(backend: ServiceBackend) async throws {
        try await Self.withTwoDataCentres(backend) { dc1, dc2 in
            let here = try await dc1.addHost("host-a")
            let there = try await dc2.addHost("host-b")
            let homeApp = Self.app(home: "dc2")
            let played = try await dc1.redeem(try await dc2.createSession(homeApp, user: "user-1"), home: "dc2")
            #expect(played.datacentre == "dc1")
            here.end(session: played.sessionId)
            let reported = try await dc1.streamhost.reportEvents(
                Self.events(
                    from: "host-a", [Self.event("ev-1", .sessionEnded, session: played.sessionId, state: [4, 2])]))
            #expect(reported.accepted == 1)
            #expect(try await dc2.service.states.load(appID: "app-1", userID: "user-1") == [4, 2])
            #expect(try await dc1.service.states.load(appID: "app-1", userID: "user-1") == [])

            // The next session, wherever it runs, gets the state from the home's claim.
            _ = try await dc2.redeem(try await dc2.createSession(homeApp, user: "user-1"))
            #expect(there.provisions.last?.priorState == [4, 2])
            _ = try await dc1.redeem(try await dc2.createSession(homeApp, user: "user-1"), home: "dc2")
            #expect(here.provisions.last?.priorState == [4, 2])
        }
    }

    @Test(
        "one report ending many sessions keeps each state at its home, and none for another host's session",
        arguments: ServiceBackend.all)
    func savedStatesInOneReport(backend: ServiceBackend) async throws {
        try await Self.withTwoDataCentres(backend) { dc1, dc2 in
            let hostA = try await dc1.addHost("host-a")
            let atHome = try await dc1.redeem(try await dc1.createSession(user: "user-1"))
            let fromPeer = try await dc1.redeem(
                try await dc2.createSession(Self.app(home: "dc2"), user: "user-2"), home: "dc2")
            let hostC = try await dc1.addHost("host-c")
            let elsewhere = try await dc1.redeem(try await dc1.createSession(user: "user-3"))
            try #require(atHome.hostId == "host-a" && fromPeer.hostId == "host-a" && elsewhere.hostId == "host-c")
            hostA.end(session: atHome.sessionId)
            hostA.end(session: fromPeer.sessionId)
            hostC.end(session: elsewhere.sessionId)

            let events = [
                Self.event("ev-a", .sessionEnded, session: atHome.sessionId, state: [1]),
                Self.event("ev-b", .sessionEnded, session: fromPeer.sessionId, state: [2]),
                // host-a reports a session that runs on host-c, and one nobody placed: no state is kept.
                Self.event("ev-c", .sessionEnded, session: elsewhere.sessionId, state: [3]),
                Self.event("ev-u", .sessionEnded, session: "ses_unknown", state: [4]),
            ]
            #expect(try await dc1.streamhost.reportEvents(Self.events(from: "host-a", events)).accepted == 4)
            #expect(try await dc1.service.states.load(appID: "app-1", userID: "user-1") == [1])
            #expect(try await dc2.service.states.load(appID: "app-1", userID: "user-2") == [2])
            #expect(try await dc1.service.states.load(appID: "app-1", userID: "user-2") == [])
            #expect(try await dc1.service.states.load(appID: "app-1", userID: "user-3") == [])
            #expect(try await dc1.sessions()[atHome.sessionId]?.state == "ended")
            #expect(try await dc1.sessions()[elsewhere.sessionId]?.state == "provisioned")

            // The same batch again, with other bytes: nothing is recorded or replaced.
            let again = events.map { event in
                var changed = event
                changed.savedState = [9]
                return changed
            }
            #expect(try await dc1.streamhost.reportEvents(Self.events(from: "host-a", again)).accepted == 0)
            #expect(try await dc1.service.states.load(appID: "app-1", userID: "user-1") == [1])
            #expect(try await dc2.service.states.load(appID: "app-1", userID: "user-2") == [2])
        }
    }

    // MARK: Versions

    @Test(
        "deploying a newer version drains older instances; with force they are terminated after a notice",
        arguments: ServiceBackend.all)
    func deployVersions(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost(
                "host-a", slots: 8, packages: ["app-1/1.0.0", "app-1/2.0.0", "app-1/3.0.0"])
            let v1 = Self.app(version: "1.0.0", seats: 2)
            var deploy = Skyport_Hostmgr_V1_DeployVersionRequest()
            deploy.app = v1
            #expect(try await dc.entitlement.deployVersion(deploy).instancesAffected == 0)
            let created = try await dc.createSession(v1, user: "user-0")
            let first = try await dc.redeem(try await dc.createSession(v1, user: "user-1"))
            let second = try await dc.redeem(try await dc.createSession(v1, user: "user-2"))
            #expect(second.instanceId == first.instanceId)

            deploy.app = Self.app(version: "2.0.0", seats: 2)
            let drained = try await dc.entitlement.deployVersion(deploy)
            #expect(drained.instancesAffected == 1)
            #expect(drained.sessionsNoticed == 0)
            #expect(host.stops.map(\.instanceId) == [first.instanceId])
            #expect(host.stops.first?.terminate == false)

            // New sessions take the new version on a new instance.
            let newer = try await dc.redeem(
                try await dc.createSession(Self.app(version: "2.0.0", seats: 2), user: "u3"))
            #expect(newer.versionId == "2.0.0")
            #expect(newer.launched)
            #expect(newer.instanceId != first.instanceId)
            // A session created before the rollout keeps its version but not the draining instance, and the
            // maintenance loop drains the instance it launched.
            let late = try await dc.redeem(created)
            #expect(late.versionId == "1.0.0")
            #expect(late.instanceId != first.instanceId)
            await dc.maintain()
            #expect(host.stops.map(\.instanceId) == [first.instanceId, late.instanceId])
            #expect(host.stops.allSatisfy { !$0.terminate })

            // Not released yet: recorded, nothing stops.
            var future = Self.app(version: "3.0.0", seats: 2)
            future.releaseAtUnixMs = ServiceSupport.nowUnixMilliseconds() + 3_600_000
            deploy.app = future
            #expect(try await dc.entitlement.deployVersion(deploy).instancesAffected == 0)
            #expect(host.stops.count == 2)

            // Forced: every instance of an older version gets a termination notice.
            var forced = Skyport_Hostmgr_V1_DeployVersionRequest()
            forced.app = Self.app(version: "3.0.0", seats: 2)
            forced.force = true
            forced.noticeSeconds = 30
            let terminated = try await dc.operatorClient.deployVersion(forced)
            #expect(terminated.instancesAffected == 3)
            #expect(terminated.sessionsNoticed == 4)
            let notices = host.stops.dropFirst(2)
            #expect(Set(notices.map(\.instanceId)) == [first.instanceId, late.instanceId, newer.instanceId])
            #expect(notices.allSatisfy { $0.terminate && $0.noticeSeconds == 30 })
            #expect(dc.metric("skyport_hostmgr_drained_instances_total{mode=\"force\"}") == 3)

            let newest = try await dc.redeem(
                try await dc.createSession(Self.app(version: "3.0.0", seats: 2), user: "u4"))
            #expect(newest.versionId == "3.0.0")
            #expect(host.provisions.last?.app?.versionId == "3.0.0")
            await expectStatus(.permissionDenied) { try await dc.streamhost.deployVersion(forced) }
        }
    }

    @Test("a rollout moves the buffer pool to the new version", arguments: ServiceBackend.all)
    func rolloutMovesThePool(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost("host-a", packages: ["app-1/1.0.0", "app-1/2.0.0"])
            var deploy = Skyport_Hostmgr_V1_DeployVersionRequest()
            deploy.app = Self.app()
            _ = try await dc.entitlement.deployVersion(deploy)
            var target = Skyport_Hostmgr_V1_BufferTarget()
            target.appId = "app-1"
            target.versionId = "1.0.0"
            target.target = 1
            _ = try await dc.operatorClient.setBufferTarget(target)
            await dc.maintain()
            let oldWarm = try #require(host.instances.first).instanceId

            deploy.app = Self.app(version: "2.0.0")
            #expect(try await dc.entitlement.deployVersion(deploy).instancesAffected == 1)
            #expect(host.stops.map(\.instanceId) == [oldWarm])
            let targets = try await dc.operatorClient.listBufferTargets(.init()).targets
            #expect(targets.map(\.versionId) == ["2.0.0"])
            #expect(targets.map(\.target) == [1])

            await dc.maintain()
            #expect(host.starts.map { $0.app?.versionId } == ["1.0.0", "2.0.0"])
            let placed = try await dc.redeem(try await dc.createSession(Self.app(version: "2.0.0")))
            #expect(placed.reason == "warm instance")
            #expect(placed.versionId == "2.0.0")
        }
    }

    // MARK: Access

    @Test(
        "RedeemSession is for redemption nodes only, PlaceSession for host managements only",
        arguments: ServiceBackend.all)
    func access(backend: ServiceBackend) async throws {
        try await Self.withDataCentre(backend) { dc in
            let host = try await dc.addHost("host-a")
            let session = try await dc.createSession()
            let redeem = Self.redeemRequest(session, home: "dc1")
            for identity in ["entitlement", "hostmgr", "streamhost", "skyport", "stranger"] {
                await expectStatus(.permissionDenied, "\(identity)") {
                    try await dc.client(as: identity).redeemSession(redeem)
                }
            }
            await expectStatus(.unauthenticated) { try await dc.client(as: nil).redeemSession(redeem) }

            var claimed = Skyport_Hostmgr_V1_ClaimSessionResponse()
            claimed.sessionId = "ses_from_peer"
            claimed.userId = "user-9"
            claimed.appId = "app-1"
            claimed.developerId = "dev_a"
            claimed.homeDatacentre = "dc2"
            claimed.app = Self.app(home: "dc2")
            var place = Skyport_Hostmgr_V1_PlaceSessionRequest()
            place.session = claimed
            place.fromDatacentre = "dc2"
            for identity in ["redemption", "entitlement", "streamhost", "skyport"] {
                await expectStatus(.permissionDenied, "\(identity)") {
                    try await dc.client(as: identity).placeSession(place)
                }
            }
            #expect(host.provisions.isEmpty)

            // The refusals spent nothing: the right callers succeed.
            let redeemed = try await dc.redemption.redeemSession(redeem)
            #expect(redeemed.sessionId == session.sessionId)
            let placed = try await dc.client(as: "hostmgr").placeSession(place)
            #expect(placed.sessionId == "ses_from_peer")
            #expect(placed.datacentre == "dc1")
            #expect(host.provisions.map(\.sessionId) == [session.sessionId, "ses_from_peer"])
        }
    }
}
