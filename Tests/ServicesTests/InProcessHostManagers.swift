import EntitlementService
import HostManagerService
import Logging
import SkyportProto
import SkyportRPC
import SkyportStorage

/// Session creation for entitlement tests: a real `HostManagerService` of data centre `dc1` over its own
/// in-memory SQLite store, called in process as the `entitlement` identity would call it.
struct InProcessHostManagers: SessionCreator {
    let server: InProcessServer

    func knows(_ datacentre: String) -> Bool { datacentre == "dc1" }

    /// Runs `body` with a host management for `dc1` whose store lives as long as `body`.
    static func withDC1<T: Sendable>(_ body: (InProcessHostManagers) async throws -> T) async throws -> T {
        try await Database.withDatabase(
            StorageConfiguration(url: "sqlite::memory:"), migrations: HostManagerMigrations.all,
            logger: Logger(label: "hostmgr-test")
        ) { db in
            let service = HostManagerService(database: db, datacentre: "dc1")
            return try await body(
                InProcessHostManagers(server: InProcessServer(services: [service], policy: HostManager.accessPolicy)))
        }
    }

    func createSession(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_CreateSessionRequest
    ) async throws -> Skyport_Hostmgr_V1_CreateSessionResponse {
        guard datacentre == "dc1" else {
            throw RPCError(code: .failedPrecondition, message: "no host management is configured for \(datacentre)")
        }
        return try await Skyport_Hostmgr_V1_HostManagerClient(self.server.client(as: "entitlement")).createSession(request)
    }
}

/// Session creation that is never reached (tests of everything before it).
struct UnreachableHostManagers: SessionCreator {
    func knows(_ datacentre: String) -> Bool { true }

    func createSession(
        in datacentre: String, _ request: Skyport_Hostmgr_V1_CreateSessionRequest
    ) async throws -> Skyport_Hostmgr_V1_CreateSessionResponse {
        throw RPCError(code: .unavailable, message: "no host management in this test")
    }
}
