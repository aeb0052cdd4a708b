public import SkyportProto
public import SkyportRPC
import Synchronization

/// `grpc.health.v1.Health`: the serving status of the server (service name "") and of each service.
///
/// `Check` answers NOT_FOUND for a service with no status. `Watch` sends the current status at once
/// (SERVICE_UNKNOWN for a service with no status, and keeps watching), then every change, and ends
/// when the server enters shutdown. Watchers hold only the latest status: a slow client skips
/// intermediate changes rather than buffering them.
public final class HealthService: Grpc_Health_V1_HealthProvider {
    /// A serving status.
    public typealias ServingStatus = Grpc_Health_V1_HealthCheckResponse.ServingStatus

    /// The names of the services this provider serves.
    public static let serviceNames = ["grpc.health.v1.Health"]

    private struct Watcher {
        var service: String
        var continuation: AsyncStream<ServingStatus>.Continuation
    }

    private struct State {
        var statuses: [String: ServingStatus] = ["": .serving]
        var watchers: [UInt64: Watcher] = [:]
        var nextWatcherID: UInt64 = 0
        var isShuttingDown = false
    }

    private let state = Mutex(State())

    /// Creates the service with the server ("") SERVING and no other service known.
    public init() {}

    /// Sets the status of `service` ("" for the whole server) and notifies its watchers.
    /// Ignored once shutdown has begun, so nothing can flip a draining server back to SERVING.
    public func setStatus(_ status: ServingStatus, forService service: String) {
        self.state.withLock { state in
            guard !state.isShuttingDown else { return }
            state.statuses[service] = status
            for watcher in state.watchers.values where watcher.service == service {
                watcher.continuation.yield(status)
            }
        }
    }

    /// The current status of `service`, or `nil` when it has none.
    public func status(forService service: String) -> ServingStatus? {
        self.state.withLock { $0.statuses[service] }
    }

    /// Marks every service NOT_SERVING, tells the watchers, and ends their calls.
    public func enterShutdown() {
        self.state.withLock { state in
            state.isShuttingDown = true
            for service in state.statuses.keys {
                state.statuses[service] = .notServing
            }
            for watcher in state.watchers.values {
                // The stream delivers the buffered NOT_SERVING before it finishes.
                watcher.continuation.yield(state.statuses[watcher.service] ?? .serviceUnknown)
                watcher.continuation.finish()
            }
            state.watchers.removeAll()
        }
    }

    /// Answers with the status of the requested service.
    ///
    /// - Throws: `RPCError` NOT_FOUND when the service has no status.
    public func check(
        _ request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext
    ) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard let status = self.status(forService: request.service) else {
            throw RPCError(code: .notFound, message: "Unknown service '\(request.service)'")
        }
        var response = Grpc_Health_V1_HealthCheckResponse()
        response.status = status
        return response
    }

    /// Streams the status of the requested service: now, then on every change, until shutdown or
    /// until the client cancels.
    public func watch(
        _ request: Grpc_Health_V1_HealthCheckRequest, responses: ResponseWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        let (updates, continuation) = AsyncStream.makeStream(
            of: ServingStatus.self, bufferingPolicy: .bufferingNewest(1))
        let id = self.state.withLock { state -> UInt64? in
            continuation.yield(state.statuses[request.service] ?? .serviceUnknown)
            guard !state.isShuttingDown else {
                continuation.finish()
                return nil
            }
            let id = state.nextWatcherID
            state.nextWatcherID += 1
            state.watchers[id] = Watcher(service: request.service, continuation: continuation)
            return id
        }
        defer {
            if let id {
                _ = self.state.withLock { $0.watchers.removeValue(forKey: id) }
            }
        }
        var lastSent: ServingStatus?
        // Iteration ends when the stream finishes (shutdown) or the calling task is cancelled.
        for await status in updates where status != lastSent {
            lastSent = status
            var response = Grpc_Health_V1_HealthCheckResponse()
            response.status = status
            try await responses.write(response)
        }
    }
}
