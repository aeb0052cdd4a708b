import Logging
import ServiceLifecycle
import SkyportServer

/// The RPC server as a group member: binds once the store is ready, then serves until graceful
/// shutdown, which turns health NOT_SERVING, sends GOAWAY and lets calls in flight finish within the
/// grace period.
struct RPCServerService: Service {
    let server: GRPCServer
    let host: String
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
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.server.waitUntilStopped() }
            group.addTask {
                // Graceful shutdown, or cancellation of the group (gracefulShutdown() then throws): drain.
                try? await gracefulShutdown()
                self.logger.info("shutting down: NOT_SERVING, GOAWAY, draining", metadata: ["grace": "\(self.grace)"])
                await self.server.shutdown(gracePeriod: self.grace)
            }
            // The server stops after that drain (or on its own); either way the other task is done with.
            await group.next()
            group.cancelAll()
        }
        self.logger.info("RPC server stopped")
    }
}
