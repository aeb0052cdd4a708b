import ServiceLifecycle

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
