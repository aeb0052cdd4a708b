import ServiceLifecycle

/// Closes the outbound connections on graceful shutdown. Listed before the RPC server, so it runs after
/// the server has drained: handlers of calls in flight can still call other services.
struct ClientsCloser: Service {
    let clients: ServiceClients

    func run() async throws {
        try? await gracefulShutdown()
        await self.clients.closeAll()
    }
}
