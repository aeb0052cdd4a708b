import Metrics
import SkyportProto
import SkyportRPC
import SkyportService
import SkyportTokens
import Testing

@testable import RedemptionService

@Suite("Redemption")
struct RedemptionServiceTests {
    typealias Client = Skyport_Redemption_V1_RedemptionClient

    static func withRedemption(
        _ backend: ServiceBackend, _ body: (_ operator: Client, _ server: InProcessServer) async throws -> Void
    ) async throws {
        try await backend.withDatabase(migrations: RedemptionStore.migrations) { db in
            let service = RedemptionService(
                store: RedemptionStore(database: db), directory: DataCentreDirectory(), prefixTable: PrefixTable(),
                trustedProxies: TrustedProxies([]), connector: NoHostManagers(),
                metrics: RouteMetrics(factory: NOOPMetricsHandler.instance), logger: ServiceBackend.logger)
            let server = InProcessServer(services: [service], policy: Redemption.accessPolicy)
            try await body(Client(server.client(as: InProcessServer.operatorIdentity)), server)
        }
    }

    static func datacentre(
        _ id: String, address: String = "hostmgr.dc:7103", latitude: Double = 51.5, longitude: Double = -0.125,
        region: String = "eu-west"
    ) -> Skyport_Redemption_V1_DataCentre {
        var datacentre = Skyport_Redemption_V1_DataCentre()
        datacentre.datacentreId = id
        datacentre.hostmgrAddress = address
        datacentre.latitude = latitude
        datacentre.longitude = longitude
        datacentre.region = region
        return datacentre
    }

    static func list(_ client: Client) async throws -> [Skyport_Redemption_V1_DataCentre] {
        try await client.listDataCentres(.init()).datacentres
    }

    @Test("UpsertDataCentre inserts, then replaces the same id", arguments: ServiceBackend.all)
    func upsertInsertsThenReplaces(backend: ServiceBackend) async throws {
        try await Self.withRedemption(backend) { redemption, _ in
            let before = Int64(1_700_000_000_000)
            let inserted = try await redemption.upsertDataCentre(Self.datacentre("dc1"))
            #expect(inserted.datacentreId == "dc1")
            #expect(inserted.updatedAtUnixMs > before)
            #expect(try await Self.list(redemption) == [inserted])
            #expect(inserted.latitude == 51.5)
            #expect(inserted.longitude == -0.125)

            let replaced = try await redemption.upsertDataCentre(
                Self.datacentre("dc1", address: "10.1.2.3:7200", latitude: -33.75, longitude: 151, region: "ap-south"))
            #expect(replaced.updatedAtUnixMs >= inserted.updatedAtUnixMs)
            let listed = try await Self.list(redemption)
            #expect(listed == [replaced])
            #expect(listed.first?.hostmgrAddress == "10.1.2.3:7200")
            #expect(listed.first?.latitude == -33.75)
            #expect(listed.first?.longitude == 151)
            #expect(listed.first?.region == "ap-south")
        }
    }

    @Test("ListDataCentres is ordered by id", arguments: ServiceBackend.all)
    func listIsOrdered(backend: ServiceBackend) async throws {
        try await Self.withRedemption(backend) { redemption, _ in
            #expect(try await Self.list(redemption).isEmpty)
            for id in ["dc3", "dc1", "edge-2", "dc2"] {
                _ = try await redemption.upsertDataCentre(Self.datacentre(id))
            }
            #expect(try await Self.list(redemption).map(\.datacentreId) == ["dc1", "dc2", "dc3", "edge-2"])
        }
    }

    @Test("bad coordinates, addresses and ids are INVALID_ARGUMENT and store nothing", arguments: ServiceBackend.all)
    func invalidDataCentres(backend: ServiceBackend) async throws {
        try await Self.withRedemption(backend) { redemption, _ in
            let invalid = [
                Self.datacentre("dc1", latitude: 90.5),
                Self.datacentre("dc1", latitude: -91),
                Self.datacentre("dc1", latitude: .nan),
                Self.datacentre("dc1", longitude: 180.01),
                Self.datacentre("dc1", longitude: -181),
                Self.datacentre("dc1", longitude: .infinity),
                Self.datacentre("dc1", address: ""),
                Self.datacentre("dc1", address: "hostmgr"),
                Self.datacentre("dc1", address: ":7103"),
                Self.datacentre("dc1", address: "hostmgr:0"),
                Self.datacentre("dc1", address: "hostmgr:65536"),
                Self.datacentre("dc1", address: "hostmgr:http"),
                Self.datacentre(""),
                Self.datacentre("DC1"),
                Self.datacentre("dc 1"),
                Self.datacentre("dc1", region: ""),
            ]
            for datacentre in invalid {
                await expectStatus(.invalidArgument, "\(datacentre)") {
                    try await redemption.upsertDataCentre(datacentre)
                }
            }
            let stored = try await Self.list(redemption)
            #expect(stored.isEmpty)

            // The edges of the ranges are valid.
            let edge = Self.datacentre("dc-edge", latitude: -90, longitude: 180)
            await expectStatus(.ok) { try await redemption.upsertDataCentre(edge) }
        }
    }

    @Test(
        "Redeem is public: without a certificate a bad token is refused for itself, not for access",
        arguments: ServiceBackend.all)
    func redeemIsPublic(backend: ServiceBackend) async throws {
        try await Self.withRedemption(backend) { _, server in
            let anonymous = Client(server.client(as: nil))
            var request = Skyport_Redemption_V1_RedeemRequest()
            request.token = [1, 2, 3]
            await expectStatus(.invalidArgument) { try await anonymous.redeem(request) }
            await expectStatus(.invalidArgument) { try await anonymous.redeem(.init()) }
            // Operator methods stay the operator's.
            await expectStatus(.unauthenticated) { try await anonymous.listDataCentres(.init()) }
            var explain = Skyport_Redemption_V1_ExplainRouteRequest()
            explain.clientAddress = "192.0.2.1"
            await expectStatus(.unauthenticated) { try await anonymous.explainRoute(explain) }
            await expectStatus(.permissionDenied) {
                try await Client(server.client(as: "hostmgr")).explainRoute(explain)
            }
        }
    }

    @Test(
        "a token's home must be known, and its keys come from the home's host management", arguments: ServiceBackend.all
    )
    func redeemNeedsAKnownHome(backend: ServiceBackend) async throws {
        try await Self.withRedemption(backend) { redemption, server in
            let anonymous = Client(server.client(as: nil))
            let token = try TokenIssuer(key: try TokenSigningKey.generate(keyID: "dc1-1"), homeDatacentre: "dc1")
                .issue(sessionID: "ses_1", appID: "app-1", nowMilliseconds: ServiceSupport.nowUnixMilliseconds())
            var request = Skyport_Redemption_V1_RedeemRequest()
            request.tokenText = token.token
            await expectStatus(.unauthenticated) { try await anonymous.redeem(request) }
            // Once dc1 is known, its keys are fetched from its host management, which is unreachable here.
            _ = try await redemption.upsertDataCentre(Self.datacentre("dc1"))
            await expectStatus(.unavailable) { try await anonymous.redeem(request) }
        }
    }

    @Test(
        "ExplainRoute lists every data centre, unprobed ones skipped, and names the one a redemption tries first",
        arguments: ServiceBackend.all)
    func explainRouteBeforeAnyProbe(backend: ServiceBackend) async throws {
        try await Self.withRedemption(backend) { redemption, _ in
            _ = try await redemption.upsertDataCentre(Self.datacentre("dc2"))
            _ = try await redemption.upsertDataCentre(Self.datacentre("dc1"))
            var request = Skyport_Redemption_V1_ExplainRouteRequest()
            request.clientAddress = "2001:db8::1"
            let decision = try await redemption.explainRoute(request)
            #expect(decision.candidates.map(\.datacentreId) == ["dc1", "dc2"])
            #expect(decision.candidates.allSatisfy { $0.skippedBecause == "down: not probed yet" })
            // As a redemption would: with no candidate, the unprobed data centres are tried, best first.
            #expect(decision.reason == "dc1: tried first while no data centre is probed yet")
            #expect(!decision.clientLocated)
            request.clientAddress = "2001:db8::/32"
            await expectStatus(.invalidArgument) { try await redemption.explainRoute(request) }
            // Listed with their (empty) probe state.
            let listed = try await Self.list(redemption)
            #expect(listed.map(\.up) == [false, false])
            #expect(listed.map(\.probedAtUnixMs) == [0, 0])
        }
    }
}

/// Host management that cannot be reached (in-process tests of everything before a forward).
struct NoHostManagers: HostManagerConnector {
    func hostManager(at address: String) throws -> Skyport_Hostmgr_V1_HostManagerClient {
        throw RPCError(code: .unavailable, message: "no host management in this test")
    }
}
