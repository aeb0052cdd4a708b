import Synchronization

/// The response headers and final status of a client call, published once by a transport and
/// awaited by any number of readers.
package final class CallOutcome: Sendable {
    private struct State {
        var headers: Metadata?
        var headerWaiters: [CheckedContinuation<Metadata, Never>] = []
        var status: (status: Status, trailers: Metadata)?
        var statusWaiters: [CheckedContinuation<(status: Status, trailers: Metadata), Never>] = []
    }

    private let state = Mutex(State())

    /// Creates an outcome with nothing published.
    package init() {}

    /// Publishes the response headers; only the first call has an effect.
    package func publishHeaders(_ metadata: Metadata) {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Metadata, Never>] in
            guard state.headers == nil else { return [] }
            state.headers = metadata
            defer { state.headerWaiters = [] }
            return state.headerWaiters
        }
        for waiter in waiters { waiter.resume(returning: metadata) }
    }

    /// Publishes the final status (and empty headers if none came). Only the first call has an effect.
    ///
    /// - Returns: whether this call published the status.
    @discardableResult
    package func publishStatus(_ status: Status, _ trailers: Metadata) -> Bool {
        self.publishHeaders([:])
        let waiters = self.state.withLock {
            state -> [CheckedContinuation<(status: Status, trailers: Metadata), Never>]? in
            guard state.status == nil else { return nil }
            state.status = (status, trailers)
            defer { state.statusWaiters = [] }
            return state.statusWaiters
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume(returning: (status, trailers)) }
        return true
    }

    /// Whether the status has been published.
    package var isFinished: Bool { self.state.withLock { $0.status != nil } }

    /// The published status as an error, when the call ended with anything but OK.
    package var failure: RPCError? {
        self.state.withLock { state in
            guard let (status, trailers) = state.status, status.code != .ok else { return nil }
            return RPCError(status: status, metadata: trailers)
        }
    }

    /// The response headers; empty when the call ended without any.
    package func headers() async -> Metadata {
        await withCheckedContinuation { continuation in
            let ready = self.state.withLock { state -> Metadata? in
                if let headers = state.headers { return headers }
                state.headerWaiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// The final status and trailing metadata.
    package func status() async -> (status: Status, trailers: Metadata) {
        await withCheckedContinuation { continuation in
            let ready = self.state.withLock { state -> (status: Status, trailers: Metadata)? in
                if let status = state.status { return status }
                state.statusWaiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
