@testable import EntitlementService
import SkyportProto
import SkyportRPC
import SkyportTokens
import Testing

/// The catalogue, entitlements and session requests, through the entitlement service with a real host
/// management (`dc1`) behind it.
@Suite("Entitlement: catalogue and sessions")
struct EntitlementSessionTests {
    typealias Client = Skyport_Entitlement_V1_EntitlementClient
    typealias Fixture = EntitlementServiceTests.Fixture

    /// A developer's client: its API key on every call.
    struct Developer {
        let client: Client
        let key: String

        var metadata: Metadata { EntitlementServiceTests.bearer(self.key) }

        func register(home: String = "dc1") async throws -> Skyport_Entitlement_V1_Application {
            var request = Skyport_Entitlement_V1_RegisterApplicationRequest()
            request.name = "Demo"
            request.homeDatacentre = home
            var profile = Skyport_Entitlement_V1_ResourceProfile()
            profile.cpuUnits = 2
            profile.memoryMib = 2048
            profile.sessionsPerInstance = 1
            request.profile = profile
            return try await self.client.registerApplication(request, metadata: self.metadata)
        }

        func publish(_ app: String, version: String = "1.0.0", releaseAt: Int64 = 0) async throws {
            var request = Skyport_Entitlement_V1_PublishVersionRequest()
            request.appId = app
            request.versionId = version
            request.launchCommand = "bin/demo --serve"
            request.releaseAtUnixMs = releaseAt
            _ = try await self.client.publishVersion(request, metadata: self.metadata)
        }

        func grant(_ app: String, user: String, kind: Skyport_Entitlement_V1_EntitlementKind = .purchase) async throws {
            var request = Skyport_Entitlement_V1_GrantEntitlementRequest()
            request.appId = app
            request.userId = user
            request.kind = kind
            _ = try await self.client.grantEntitlement(request, metadata: self.metadata)
        }

        func requestSession(_ app: String, user: String) async throws -> Skyport_Entitlement_V1_RequestSessionResponse {
            var request = Skyport_Entitlement_V1_RequestSessionRequest()
            request.appId = app
            request.userId = user
            return try await self.client.requestSession(request, metadata: self.metadata)
        }
    }

    static func developer(_ fixture: Fixture, name: String = "Ada") async throws -> Developer {
        let created = try await EntitlementServiceTests.create(
            fixture.operatorClient, name: name, email: "\(name.lowercased())@example.com")
        return Developer(client: fixture.publicClient, key: created.apiKey)
    }

    @Test("register, publish, grant, request: a token from the home data centre", arguments: ServiceBackend.all)
    func fullRequest(backend: ServiceBackend) async throws {
        try await EntitlementServiceTests.withEntitlement(backend) { fixture in
            let ada = try await Self.developer(fixture)
            let app = try await ada.register()
            try await ada.publish(app.appId)
            try await ada.grant(app.appId, user: "user-1")
            let session = try await ada.requestSession(app.appId, user: "user-1")
            #expect(session.sessionId.hasPrefix("ses_"))
            #expect(session.tokenText.hasPrefix(SessionToken.prefix))
            #expect(session.redemptionEndpoints == ["127.0.0.1:7102", "127.0.0.1:7202"])
            #expect(session.redeemUrl == "skyport://127.0.0.1:7102/redeem?token=\(session.tokenText)")
            #expect(session.expiresAtUnixMs > 0)
            let described = try await ada.client.getApplication(
                {
                    var request = Skyport_Entitlement_V1_GetApplicationRequest(); request.appId = app.appId;
                    return request
                }(),
                metadata: ada.metadata)
            #expect(described.versions.map(\.versionId) == ["1.0.0"])
            #expect(described.profile?.memoryMib == 2048)
        }
    }

    @Test(
        "released versions are deployed to host management; sessions carry the current one",
        arguments: ServiceBackend.all)
    func versionsReachHostManagement(backend: ServiceBackend) async throws {
        try await EntitlementServiceTests.withEntitlement(backend) { fixture in
            let ada = try await Self.developer(fixture)
            let app = try await ada.register()
            let hostmgr = fixture.hostmgrs.operatorClient
            // Host management keeps a buffer target only for a version it was told about.
            func deployed(_ version: String) async -> Bool {
                var target = Skyport_Hostmgr_V1_BufferTarget()
                target.appId = app.appId
                target.versionId = version
                return (try? await hostmgr.setBufferTarget(target)) != nil
            }
            #expect(!(await deployed("1.0.0")))
            try await ada.publish(app.appId, version: "1.0.0")
            #expect(await deployed("1.0.0"))
            try await ada.grant(app.appId, user: "user-1")
            #expect(try await ada.requestSession(app.appId, user: "user-1").versionId == "1.0.0")

            try await ada.publish(app.appId, version: "2.0.0")
            // 2100-01-01T00:00:00Z: published, not released, so not deployed.
            try await ada.publish(app.appId, version: "3.0.0", releaseAt: 4_102_444_800_000)
            #expect(await deployed("2.0.0"))
            #expect(!(await deployed("3.0.0")))
            let session = try await ada.requestSession(app.appId, user: "user-1")
            #expect(session.versionId == "2.0.0")

            // What host management was given to run: the version and the application's profile.
            var claim = Skyport_Hostmgr_V1_ClaimSessionRequest()
            claim.sessionId = session.sessionId
            claim.tokenHash = SessionToken.hash(session.tokenText)
            claim.claimingDatacentre = "dc1"
            let redemption = Skyport_Hostmgr_V1_HostManagerClient(fixture.hostmgrs.server.client(as: "redemption"))
            let claimed = try await redemption.claimSession(claim)
            let launch = try #require(claimed.app)
            #expect(launch.appId == app.appId)
            #expect(launch.versionId == "2.0.0")
            #expect(launch.developerId == (try await ada.client.whoAmI(.init(), metadata: ada.metadata)).developerId)
            #expect(launch.launchCommand == "bin/demo --serve")
            #expect(launch.cpuUnits == 2)
            #expect(launch.memoryMib == 2048)
            #expect(launch.sessionsPerInstance == 1)
            #expect(launch.homeDatacentre == "dc1")
            #expect(claimed.userId == "user-1")

            // RollOutVersion: a released version reaches every data centre; an unreleased one is refused.
            var rollOut = Skyport_Entitlement_V1_RollOutVersionRequest()
            rollOut.appId = app.appId
            rollOut.versionId = "2.0.0"
            rollOut.force = true
            let rolled = try await ada.client.rollOutVersion(rollOut, metadata: ada.metadata)
            #expect(rolled.datacentres == ["dc1"])
            #expect(rolled.instancesAffected == 0)
            rollOut.versionId = "3.0.0"
            await expectStatus(.failedPrecondition) {
                try await ada.client.rollOutVersion(rollOut, metadata: ada.metadata)
            }
            rollOut.versionId = "9.9.9"
            await expectStatus(.notFound) { try await ada.client.rollOutVersion(rollOut, metadata: ada.metadata) }
            #expect(!(await deployed("3.0.0")))
        }
    }

    @Test("no, revoked or expired entitlements are PERMISSION_DENIED", arguments: ServiceBackend.all)
    func entitlementIsChecked(backend: ServiceBackend) async throws {
        try await EntitlementServiceTests.withEntitlement(backend) { fixture in
            let ada = try await Self.developer(fixture)
            let app = try await ada.register()
            try await ada.publish(app.appId)
            await expectStatus(.permissionDenied) { try await ada.requestSession(app.appId, user: "nobody") }
            // Expired (written through the store: the API refuses a past expiry).
            try await CatalogStore(database: fixture.database).grant(
                CatalogStore.Entitlement(
                    appID: app.appId, userID: "lapsed", kind: 2, expiresAtMilliseconds: 1_000,
                    grantedAtMilliseconds: 500, revokedAtMilliseconds: nil))
            do {
                _ = try await ada.requestSession(app.appId, user: "lapsed")
                Issue.record("an expired entitlement started a session")
            } catch let error as RPCError {
                #expect(error.code == .permissionDenied)
                #expect(error.message.contains("expired at 1970-01-01T00:00:01Z"))
            }
            try await ada.grant(app.appId, user: "user-1")
            var revoke = Skyport_Entitlement_V1_RevokeEntitlementRequest()
            revoke.appId = app.appId
            revoke.userId = "user-1"
            let revoked = try await ada.client.revokeEntitlement(revoke, metadata: ada.metadata)
            #expect(revoked.revokedAtUnixMs > 0)
            await expectStatus(.permissionDenied) { try await ada.requestSession(app.appId, user: "user-1") }
            await expectStatus(.notFound) { try await ada.client.revokeEntitlement(revoke, metadata: ada.metadata) }
            // Granting again restores it.
            try await ada.grant(app.appId, user: "user-1", kind: .subscription)
            _ = try await ada.requestSession(app.appId, user: "user-1")
            var list = Skyport_Entitlement_V1_ListEntitlementsRequest()
            list.appId = app.appId
            let listed = try await ada.client.listEntitlements(list, metadata: ada.metadata)
            #expect(listed.entitlements.map(\.userId) == ["lapsed", "user-1"])
            #expect(listed.entitlements.map(\.kind) == [.subscription, .subscription])
            #expect(listed.entitlements.map(\.revokedAtUnixMs) == [0, 0])
            #expect(listed.entitlements[0].expiresAtUnixMs == 1_000)
        }
    }

    @Test("a pre-order before the release date is FAILED_PRECONDITION naming the date", arguments: ServiceBackend.all)
    func preOrderBeforeRelease(backend: ServiceBackend) async throws {
        try await EntitlementServiceTests.withEntitlement(backend) { fixture in
            let ada = try await Self.developer(fixture)
            let app = try await ada.register()
            // 2100-01-01T00:00:00Z
            try await ada.publish(app.appId, releaseAt: 4_102_444_800_000)
            try await ada.grant(app.appId, user: "early", kind: .preOrder)
            do {
                _ = try await ada.requestSession(app.appId, user: "early")
                Issue.record("a pre-order started a session before the release")
            } catch let error as RPCError {
                #expect(error.code == .failedPrecondition)
                #expect(error.message.contains("2100-01-01T00:00:00Z"))
                #expect(error.message.contains("pre-order"))
            }
        }
    }

    @Test("another developer's application is NOT_FOUND everywhere", arguments: ServiceBackend.all)
    func developersAreIsolated(backend: ServiceBackend) async throws {
        try await EntitlementServiceTests.withEntitlement(backend) { fixture in
            let ada = try await Self.developer(fixture, name: "Ada")
            let bob = try await Self.developer(fixture, name: "Bob")
            let app = try await ada.register()
            try await ada.publish(app.appId)
            try await ada.grant(app.appId, user: "user-1")
            await expectStatus(.notFound) { try await bob.requestSession(app.appId, user: "user-1") }
            await expectStatus(.notFound) { try await bob.grant(app.appId, user: "user-2") }
            await expectStatus(.notFound) { try await bob.publish(app.appId, version: "2.0.0") }
            // A wrong key is UNAUTHENTICATED, before any of that.
            let wrong = Developer(
                client: fixture.publicClient, key: "sk_0123456789abcdef_" + String(repeating: "A", count: 43))
            await expectStatus(.unauthenticated) { try await wrong.requestSession(app.appId, user: "user-1") }
        }
    }

    @Test("bad catalogue input is INVALID_ARGUMENT or ALREADY_EXISTS", arguments: ServiceBackend.all)
    func catalogueInput(backend: ServiceBackend) async throws {
        try await EntitlementServiceTests.withEntitlement(backend) { fixture in
            let ada = try await Self.developer(fixture)
            let app = try await ada.register()
            try await ada.publish(app.appId)
            await expectStatus(.alreadyExists) { try await ada.publish(app.appId) }
            await expectStatus(.invalidArgument) { try await ada.register(home: "DC 1") }
            await expectStatus(.invalidArgument) { try await ada.grant(app.appId, user: "u", kind: .unspecified) }
            // A home data centre the platform does not have is refused at registration.
            await expectStatus(.invalidArgument) { try await ada.register(home: "dc9") }
        }
    }
}
