import Logging
import ServiceLifecycle
import SkyportStorage

/// The store as a group member: runs the database, applies the migrations, runs the service's
/// `prepare` step, opens `ready`, and on
/// graceful shutdown (which reaches it last, after the RPC server has drained) closes the database.
///
/// The database runs in a detached task: postgres-nio would otherwise see the group's graceful
/// shutdown itself and close its pool while the RPC server is still finishing calls.
struct StoreService: Service {
    let database: Database
    let migrations: [Migration]
    let prepare: (@Sendable () async throws -> Void)?
    let ready: StartupGate
    let logger: Logger

    func run() async throws {
        let database = self.database
        let running = Task.detached { try await database.run() }
        try await withTaskCancellationHandler {
            do {
                let start = ContinuousClock.now
                try await database.migrate(self.migrations)
                try await self.prepare?()
                self.logger.info(
                    "store ready",
                    metadata: [
                        "store": "\(database.configuration)", "migrations": "\(self.migrations.count)",
                        "duration_ms": "\((ContinuousClock.now - start).millisecondsText)",
                    ])
                self.ready.open()
            } catch {
                self.ready.fail(error)
                running.cancel()
                _ = try? await running.value
                throw error
            }
            // Wait for graceful shutdown (or cancellation), then close.
            try? await gracefulShutdown()
            running.cancel()
            try await running.value
            self.logger.info("store closed")
        } onCancel: {
            running.cancel()
        }
    }
}
