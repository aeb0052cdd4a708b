import Logging
import ServiceLifecycle
import SkyportServer
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

/// The RPC server as a group member: binds once the store is ready, then serves until graceful
/// shutdown, which turns health NOT_SERVING, sends GOAWAY and lets calls in flight finish within the
/// grace period.
struct RPCServerService: Service {
    let server: GRPCServer
    let host: String
    let port: Int
    let grace: Duration
    let storeReady: StartupGate
    let serving: StartupGate
    let boundPort: @Sendable (Int) -> Void
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.storeReady.wait() }
        } catch is CancellationError where Task.isShuttingDownGracefully {
            self.serving.fail(CancellationError())
            return
        } catch {
            self.serving.fail(error)
            throw error
        }
        let port: Int
        do {
            port = try await self.server.start()
        } catch {
            self.serving.fail(error)
            throw error
        }
        self.boundPort(port)
        self.serving.open()
        self.logger.info("serving", metadata: ["address": "\(self.host):\(port)"])
        let server = self.server
        let grace = self.grace
        let logger = self.logger
        await withTaskCancellationOrGracefulShutdownHandler {
            await server.waitUntilStopped()
        } onCancelOrGracefulShutdown: {
            logger.info("shutting down: NOT_SERVING, GOAWAY, draining", metadata: ["grace": "\(grace)"])
            Task { await server.shutdown(gracePeriod: grace) }
        }
        logger.info("RPC server stopped")
    }
}

/// A background loop that starts only once the RPC server serves.
struct AfterServing: Service {
    let serving: StartupGate
    let service: any Service

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.serving.wait() }
        } catch is CancellationError where Task.isShuttingDownGracefully {
            return
        }
        try await self.service.run()
    }
}
