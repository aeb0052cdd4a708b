import Synchronization

/// A value behind a lock, shareable between tasks (a `Mutex` in a class, so closures can capture it).
final class LockedValue<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        self.mutex = Mutex(value)
    }

    func get() -> Value {
        self.mutex.withLock { $0 }
    }

    func set(_ value: Value) {
        self.mutex.withLock { $0 = value }
    }

    /// Changes the value under the lock and returns what `body` returns.
    @discardableResult
    func update<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        self.mutex.withLock { body(&$0) }
    }
}
