import Synchronization

/// Lets later services of a group wait until an earlier one is ready (the RPC server until the store
/// is migrated). Opening it wakes every waiter; failing it throws the error in every waiter; a
/// cancelled waiter stops waiting with `CancellationError`.
final class StartupGate: Sendable {
    private enum State {
        case waiting([Int: CheckedContinuation<Void, any Error>], nextID: Int)
        case open
        case failed(any Error)
    }

    private let state = Mutex<State>(.waiting([:], nextID: 0))

    /// Opens the gate.
    func open() {
        self.resolve(with: nil)
    }

    /// Fails the gate: current and future waiters throw `error`.
    func fail(_ error: any Error) {
        self.resolve(with: error)
    }

    private func resolve(with error: (any Error)?) {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            guard case .waiting(let waiters, _) = state else { return [] }
            state = error.map { .failed($0) } ?? .open
            return Array(waiters.values)
        }
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }

    /// Returns once the gate is open.
    func wait() async throws {
        let id = self.state.withLock { state -> Int? in
            guard case .waiting(let waiters, let nextID) = state else { return nil }
            state = .waiting(waiters, nextID: nextID + 1)
            return nextID
        }
        guard let id else { return try self.checkResolved() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate = self.state.withLock { state -> Result<Void, any Error>? in
                    switch state {
                    case .waiting(var waiters, let nextID):
                        if Task.isCancelled { return .failure(CancellationError()) }
                        waiters[id] = continuation
                        state = .waiting(waiters, nextID: nextID)
                        return nil
                    case .open:
                        return .success(())
                    case .failed(let error):
                        return .failure(error)
                    }
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard case .waiting(var waiters, let nextID) = state else { return nil }
                let waiter = waiters.removeValue(forKey: id)
                state = .waiting(waiters, nextID: nextID)
                return waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private func checkResolved() throws {
        try self.state.withLock { state in
            if case .failed(let error) = state { throw error }
        }
    }
}
