import DistributionService
import SkyportProto
import SkyportRPC
import Testing

@Suite("Distribution")
struct DistributionServiceTests {
    typealias Client = Skyport_Distribution_V1_DistributionClient

    static let sha = String(repeating: "0123456789abcdef", count: 4)
    static let otherSHA = String(repeating: "fedcba9876543210", count: 4)

    static func withDistribution(
        _ backend: ServiceBackend, _ body: (_ operator: Client) async throws -> Void
    ) async throws {
        try await backend.withDatabase(migrations: DistributionStore.migrations) { db in
            let server = InProcessServer(
                services: [DistributionService(store: DistributionStore(database: db))],
                policy: Distribution.accessPolicy)
            try await body(Client(server.client(as: InProcessServer.operatorIdentity)))
        }
    }

    static func package(
        _ version: String, app: String = "app-1", size: UInt64 = 1_048_576, sha256: String = sha
    ) -> Skyport_Distribution_V1_RegisterPackageRequest {
        var request = Skyport_Distribution_V1_RegisterPackageRequest()
        request.appId = app
        request.version = version
        request.sizeBytes = size
        request.sha256 = sha256
        return request
    }

    static func list(_ client: Client, app: String = "app-1") async throws -> [Skyport_Distribution_V1_Package] {
        var request = Skyport_Distribution_V1_ListPackagesRequest()
        request.appId = app
        return try await client.listPackages(request).packages
    }

    @Test(
        "RegisterPackage records a package; ListPackages returns an app's, ordered by version",
        arguments: ServiceBackend.all)
    func registerThenList(backend: ServiceBackend) async throws {
        try await Self.withDistribution(backend) { distribution in
            let newer = try await distribution.registerPackage(Self.package("2.0.0", size: 5_000_000_000))
            #expect(newer.appId == "app-1")
            #expect(newer.version == "2.0.0")
            #expect(newer.sizeBytes == 5_000_000_000)
            #expect(newer.sha256 == Self.sha)
            #expect(newer.registeredAtUnixMs > 0)
            let older = try await distribution.registerPackage(Self.package("1.0.0", sha256: Self.otherSHA))
            let elsewhere = try await distribution.registerPackage(Self.package("1.0.0", app: "app-2"))

            #expect(try await Self.list(distribution) == [older, newer])
            #expect(try await Self.list(distribution, app: "app-2") == [elsewhere])
            #expect(try await Self.list(distribution, app: "app-3").isEmpty)
        }
    }

    @Test("the same version twice is ALREADY_EXISTS and keeps the first package", arguments: ServiceBackend.all)
    func sameVersionTwice(backend: ServiceBackend) async throws {
        try await Self.withDistribution(backend) { distribution in
            let first = try await distribution.registerPackage(Self.package("1.0.0"))
            await expectStatus(.alreadyExists) { try await distribution.registerPackage(Self.package("1.0.0")) }
            await expectStatus(.alreadyExists) {
                try await distribution.registerPackage(Self.package("1.0.0", sha256: Self.otherSHA))
            }
            #expect(try await Self.list(distribution) == [first])
        }
    }

    @Test("a bad sha256 or size is INVALID_ARGUMENT and records nothing", arguments: ServiceBackend.all)
    func invalidPackages(backend: ServiceBackend) async throws {
        try await Self.withDistribution(backend) { distribution in
            for request in [
                Self.package("1.0.0", sha256: Self.sha.uppercased()),
                Self.package("1.0.0", sha256: String(Self.sha.dropLast())),
                Self.package("1.0.0", sha256: Self.sha + "0"),
                Self.package("1.0.0", sha256: String(Self.sha.dropLast()) + "g"),
                Self.package("1.0.0", sha256: ""),
                Self.package("1.0.0", size: 0),
                Self.package("1.0.0", size: UInt64(Int64.max) + 1),
                Self.package(""),
                Self.package("1.0.0", app: ""),
            ] {
                await expectStatus(.invalidArgument, "\(request)") { try await distribution.registerPackage(request) }
            }
            let packages = try await Self.list(distribution)
            #expect(packages.isEmpty)
            await expectStatus(.invalidArgument) { try await Self.list(distribution, app: "") }
        }
    }

    @Test("ScheduleTransfer is UNIMPLEMENTED", arguments: ServiceBackend.all)
    func scheduleTransferIsUnimplemented(backend: ServiceBackend) async throws {
        try await Self.withDistribution(backend) { distribution in
            var request = Skyport_Distribution_V1_ScheduleTransferRequest()
            request.appId = "app-1"
            request.version = "1.0.0"
            request.hostId = "host-a"
            await expectStatus(.unimplemented) { try await distribution.scheduleTransfer(request) }
        }
    }
}
