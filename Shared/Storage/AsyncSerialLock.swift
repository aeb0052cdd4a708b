import Synchronization

/// A FIFO async mutex: the holder may suspend (await) while holding it.
///
/// SQLite transactions with async closures span several GRDB calls on the single writer connection;
/// this lock keeps any other transaction from interleaving statements on it. Taking a free lock does
/// not suspend. Waiters are not cancellable: a cancelled task still waits its turn.
final class AsyncSerialLock: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    /// Suspends until the lock is free, then takes it.
    func acquire() async {
        let taken = self.state.withLock { state in
            if state.held { return false }
            state.held = true
            return true
        }
        if taken { return }
        await withCheckedContinuation { continuation in
            let handed = self.state.withLock { state in
                // Freed between the two looks: take it now.
                if !state.held {
                    state.held = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if handed { continuation.resume() }
        }
    }

    /// Hands the lock to the next waiter, or frees it.
    func release() {
        let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.held = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }

    /// Runs `body` while holding the lock.
    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await self.acquire()
        do {
            let value = try await body()
            self.release()
            return value
        } catch {
            self.release()
            throw error
        }
    }
}
