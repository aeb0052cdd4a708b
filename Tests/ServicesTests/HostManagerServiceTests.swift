@testable import HostManagerService
import SkyportInterop
import SkyportTokens
import SkyportProto
import SkyportRPC
import SkyportStorage
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
        try await backend.withDatabase(migrations: HostManagerMigrations.all) { db in
            let server = InProcessServer(
                services: [Self.service(db)],
                policy: HostManager.accessPolicy)
            try await body(Fixture(server: server))
        }
    }

    /// A host management of `datacentre` over `db`, with no stream hosts or peers to reach.
    static func service(_ db: Database, datacentre: String = "dc1") -> HostManagerService {
        HostManagerService(
            database: db, settings: HostManagerService.Settings(datacentre: datacentre),
            links: InProcessHostManagerLinks(), logger: ServiceBackend.logger)
    }

    /// What entitlement sends with a session: the version of `app-1` of `dev_a` to run.
    static func app(
        _ appID: String = "app-1", version: String = "1.0.0", developer: String = "dev_a", home: String = "dc1"
    ) -> Skyport_Hostmgr_V1_AppLaunch {
        var app = Skyport_Hostmgr_V1_AppLaunch()
        app.appId = appID
        app.versionId = version
        app.developerId = developer
        app.launchCommand = "bin/demo --serve"
        app.cpuUnits = 2
        app.memoryMib = 2048
        app.sessionsPerInstance = 1
        app.homeDatacentre = home
        return app
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

    static func sessionRequest(validity: UInt32 = 0, cidr: String = "") -> Skyport_Hostmgr_V1_CreateSessionRequest {
        var request = Skyport_Hostmgr_V1_CreateSessionRequest()
        request.appId = "app-1"
        request.userId = "user-1"
        request.developerId = "dev_a"
        request.tokenValiditySeconds = validity
        request.clientCidr = cidr
        request.app = Self.app()
        return request
    }

    static func claim(_ session: String, token: String, from datacentre: String = "dc2")
        -> Skyport_Hostmgr_V1_ClaimSessionRequest
    {
        var request = Skyport_Hostmgr_V1_ClaimSessionRequest()
        request.sessionId = session
        request.tokenHash = SessionToken.hash(token)
        request.claimingDatacentre = datacentre
        return request
    }

    /// The published keys, fetched the way a redemption node does: over RPC.
    struct PublishedKeys: TokenKeySource {
        let client: Client

        func publishedKeys() async throws -> [String: Ed25519.PublicKey] {
            var keys: [String: Ed25519.PublicKey] = [:]
            for key in try await self.client.getTokenKeys(.init()).keys {
                keys[key.keyId] = try Ed25519.PublicKey(rawRepresentation: key.publicKey)
            }
            return keys
        }
    }

    @Test("CreateSession mints a token that verifies with the published keys", arguments: ServiceBackend.all)
    func createSessionMintsAVerifiableToken(backend: ServiceBackend) async throws {
        try await backend.withDatabase(migrations: HostManagerMigrations.all) { db in
            let service = Self.service(db)
            let server = InProcessServer(services: [service], policy: HostManager.accessPolicy)
            let entitlement = Client(server.client(as: "entitlement"))
            let session = try await entitlement.createSession(Self.sessionRequest(cidr: "203.0.113.0/24"))
            #expect(session.sessionId.hasPrefix("ses_"))
            #expect(session.tokenText == SessionToken.prefix + Base64.encodeURL(session.token))
            let verifier = TokenVerifier(source: PublishedKeys(client: Client(server.client(as: "redemption"))))
            let claims = try await verifier.verify(
                session.tokenText, clientAddress: "203.0.113.5", nowMilliseconds: session.expiresAtUnixMs - 59_000)
            #expect(claims.sessionID == session.sessionId)
            #expect(claims.homeDatacentre == "dc1")
            #expect(claims.expiresAtMilliseconds == session.expiresAtUnixMs)
            #expect(claims.expiresAtMilliseconds - claims.issuedAtMilliseconds == 60_000)
            // Only the token's hash is stored: the hash matches, and neither the text nor the bytes appear.
            let rows = try await db.query("SELECT * FROM sessions")
            #expect(rows.count == 1)
            #expect(try rows[0].decode([UInt8].self, "token_hash") == SessionToken.hash(session.tokenText))
            for value in rows[0].values {
                if case .text(let text) = value { #expect(!text.contains(String(session.tokenText.dropFirst(5)))) }
                if case .bytes(let bytes) = value {
                    #expect(!EntitlementServiceTests.contains(bytes, session.token))
                    #expect(!EntitlementServiceTests.contains(bytes, Array(session.tokenText.utf8)))
                }
            }
            // The key persists: the same key id signs after a restart (a new service over the same store).
            let again = Self.service(db)
            let restartedKey = try await again.keys.ensureCurrentKey(now: 0)
            #expect(restartedKey.keyID == claims.keyID)
        }
    }

    @Test("a session is claimed exactly once, even by 100 concurrent claims", arguments: ServiceBackend.all)
    func claimedExactlyOnce(backend: ServiceBackend) async throws {
        try await Self.withHostManager(backend) { fixture in
            let entitlement = Client(fixture.server.client(as: "entitlement"))
            let session = try await entitlement.createSession(Self.sessionRequest())
            let redemption = Client(fixture.server.client(as: "redemption"))
            let outcomes = try await withThrowingTaskGroup(of: Status.Code.self) { group in
                for _ in 0..<100 {
                    group.addTask {
                        do {
                            _ = try await redemption.claimSession(
                                Self.claim(session.sessionId, token: session.tokenText))
                            return .ok
                        } catch let error as RPCError {
                            return error.code
                        }
                    }
                }
                return try await group.reduce(into: [Status.Code: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(outcomes == [.ok: 1, .failedPrecondition: 99])
            await expectStatus(.notFound) {
                try await redemption.claimSession(Self.claim(session.sessionId, token: session.tokenText + "x"))
            }
        }
    }

    @Test("an expired session cannot be claimed", arguments: ServiceBackend.all)
    func expiredSessionsCannotBeClaimed(backend: ServiceBackend) async throws {
        try await backend.withDatabase(migrations: HostManagerMigrations.all) { db in
            let store = SessionStore(database: db)
            let session = SessionStore.Session(
                sessionID: "ses_x", appID: "app-1", userID: "u", developerID: "dev_a", groupID: "", clientAddress: "",
                tokenHash: SessionToken.hash("skt1.x"), createdAtMilliseconds: 1_000, expiresAtMilliseconds: 61_000)
            try await store.create(session)
            let late = try await store.claim(
                sessionID: "ses_x", tokenHash: session.tokenHash, by: "dc1", now: 66_001, graceMilliseconds: 5000)
            #expect(late == .expired)
            let inGrace = try await store.claim(
                sessionID: "ses_x", tokenHash: session.tokenHash, by: "dc1", now: 66_000, graceMilliseconds: 5000)
            #expect(inGrace == .claimed(session, atMilliseconds: 66_000))
        }
    }

    @Test("invalid session requests are INVALID_ARGUMENT; only entitlement may create", arguments: ServiceBackend.all)
    func invalidSessionRequests(backend: ServiceBackend) async throws {
        try await Self.withHostManager(backend) { fixture in
            let entitlement = Client(fixture.server.client(as: "entitlement"))
            await expectStatus(.invalidArgument) {
                try await entitlement.createSession(Self.sessionRequest(validity: 604_801))
            }
            await expectStatus(.invalidArgument) {
                try await entitlement.createSession(Self.sessionRequest(cidr: "10.0.0.0/99"))
            }
            var noUser = Self.sessionRequest()
            noUser.userId = ""
            await expectStatus(.invalidArgument) { try await entitlement.createSession(noUser) }
            // The version to run is required, and must be the application's own.
            var noApp = Self.sessionRequest()
            noApp.app = nil
            await expectStatus(.invalidArgument) { try await entitlement.createSession(noApp) }
            var otherApp = Self.sessionRequest()
            otherApp.app = Self.app("app-2")
            await expectStatus(.invalidArgument) { try await entitlement.createSession(otherApp) }
            var otherDeveloper = Self.sessionRequest()
            otherDeveloper.app = Self.app(developer: "dev_b")
            await expectStatus(.invalidArgument) { try await entitlement.createSession(otherDeveloper) }
            var noSeats = Self.sessionRequest()
            noSeats.app?.sessionsPerInstance = 0
            await expectStatus(.invalidArgument) { try await entitlement.createSession(noSeats) }
            _ = try await entitlement.createSession(Self.sessionRequest(validity: 604_800))
            for identity in ["streamhost", "skyport"] {
                let other = Client(fixture.server.client(as: identity))
                await expectStatus(.permissionDenied) { try await other.createSession(Self.sessionRequest()) }
            }
            await expectStatus(.permissionDenied) {
                try await Client(fixture.server.client(as: "entitlement")).claimSession(Self.claim("ses_1", token: "t"))
            }
        }
    }

    @Test("buffer-targets configuration: app/version=N entries, malformed ones refused")
    func bufferTargetsConfiguration() {
        let parsed = HostManager.parseBufferTargets("app_a/1.0.0=2,app_b/2.1=0")
        #expect(
            parsed == [
                AppCatalogStore.Target(appID: "app_a", versionID: "1.0.0", target: 2),
                AppCatalogStore.Target(appID: "app_b", versionID: "2.1", target: 0),
            ])
        #expect(HostManager.parseBufferTargets("") == [])
        for bad in ["app_a=2", "app_a/1.0=65", "app_a/1.0=-1", "/1.0=1", "app_a/=1", "app_a/1.0/x=1", "app_a/1.0"] {
            #expect(HostManager.parseBufferTargets(bad) == nil, "\(bad)")
        }
    }
}
