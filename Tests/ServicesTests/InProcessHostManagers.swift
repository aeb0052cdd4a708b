import EntitlementService
import HostManagerService
import Logging
import SkyportProto
import SkyportRPC
import SkyportStorage

/// Host management for entitlement tests: a real `HostManagerService` of data centre `dc1` over its own
/// in-memory SQLite store (with no stream hosts or peers), called in process as the `entitlement`
/// identity would call it.
struct InProcessHostManagers: SessionCreator {
    let server: InProcessServer

    var datacentres: [String] { ["dc1"] }

    /// Runs `body` with a host management for `dc1` whose store lives as long as `body`.
    static func withDC1<T: Sendable>(_ body: (InProcessHostManagers) async throws -> T) async throws -> T {
        try await Database.withDatabase(
            StorageConfiguration(url: "sqlite::memory:"), migrations: HostManagerMigrations.all,
            logger: ServiceBackend.logger
        ) { db in
            let service = HostManagerService(
                database: db, settings: HostManagerService.Settings(datacentre: "dc1"),
                links: InProcessHostManagerLinks(), logger: ServiceBackend.logger)
            return try await body(
                InProcessHostManagers(server: InProcessServer(services: [service], policy: HostManager.accessPolicy)))
        }
    }

    /// The host management as the operator calls it (to look at what entitlement did there).
    var operatorClient: Skyport_Hostmgr_V1_HostManagerClient {
        Skyport_Hostmgr_V1_HostManagerClient(self.server.client(as: InProcessServer.operatorIdentity))
    }

    private var entitlementClient: Skyport_Hostmgr_V1_HostManagerClient {
        Skyport_Hostmgr_V1_HostManagerClient(self.server.client(as: "entitlement"))
    }

    func createSession(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_CreateSessionRequest
    ) async throws -> Skyport_Hostmgr_V1_CreateSessionResponse {
        try Self.require(datacentre)
        return try await self.entitlementClient.createSession(request)
    }

    func deployVersion(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_DeployVersionRequest
    ) async throws -> Skyport_Hostmgr_V1_DeployVersionResponse {
        try Self.require(datacentre)
        return try await self.entitlementClient.deployVersion(request)
    }

    private static func require(_ datacentre: String) throws {
        guard datacentre == "dc1" else {
            throw RPCError(code: .failedPrecondition, message: "no host management is configured for \(datacentre)")
        }
    }
}

/// Host managements that are never reached (tests of everything before them).
struct UnreachableHostManagers: SessionCreator {
    var datacentres: [String] { ["dc1"] }

    func createSession(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_CreateSessionRequest
    ) async throws -> Skyport_Hostmgr_V1_CreateSessionResponse {
        throw RPCError(code: .unavailable, message: "no host management in this test")
    }

    func deployVersion(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_DeployVersionRequest
    ) async throws -> Skyport_Hostmgr_V1_DeployVersionResponse {
        throw RPCError(code: .unavailable, message: "no host management in this test")
    }
}
