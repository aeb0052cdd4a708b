/// A FIFO async mutex: the holder may suspend (await) while holding it.
///
/// SQLite transactions with async closures span several GRDB calls on the single writer connection;
/// this lock keeps any other transaction from interleaving statements on it. Waiters are not
/// cancellable: a cancelled task still waits its turn, then fails at its first statement.
actor AsyncSerialLock {
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Suspends until the lock is free, then takes it.
    func acquire() async {
        if !self.held {
            self.held = true
            return
        }
        await withCheckedContinuation { self.waiters.append($0) }
    }

    /// Hands the lock to the next waiter, or frees it.
    func release() {
        if self.waiters.isEmpty {
            self.held = false
        } else {
            self.waiters.removeFirst().resume()
        }
    }

    /// Runs `body` while holding the lock.
    nonisolated func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await self.acquire()
        do {
            let value = try await body()
            await self.release()
            return value
        } catch {
            await self.release()
            throw error
        }
    }
}
