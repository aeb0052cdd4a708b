public import Metrics
import Synchronization

/// Host management's own metrics (beside the RPC metrics every service has):
/// - `skyport_hostmgr_placements_total{reason}`: sessions placed, by how (`warm`, `seat`, `launch`, `peer`);
/// - `skyport_hostmgr_hosts_lost_total` and `skyport_hostmgr_sessions_lost_total`;
/// - `skyport_hostmgr_reconciliations_total`: heartbeats that disagreed with the store and were corrected;
/// - `skyport_hostmgr_buffer_instances_total{action}`: warm instances `started` or `stopped` by the pool;
/// - `skyport_hostmgr_drained_instances_total{mode}`: instances of older versions `drain`ed or `force`d;
/// - `skyport_hostmgr_sessions_purged_total`: sessions deleted an hour after their token expired.
public final class HostManagerMetrics: Sendable {
    private let factory: (any MetricsFactory)?
    private let counters = Mutex<[String: Counter]>([:])

    /// Metrics reported to `factory`; with `nil` to the global metrics system (a no-op unless bootstrapped).
    public init(factory: (any MetricsFactory)? = nil) {
        self.factory = factory
    }

    /// Adds `amount` to the counter `name` with `dimensions`.
    func count(_ name: String, _ dimensions: [(String, String)] = [], by amount: Int = 1) {
        guard amount > 0 else { return }
        let key = ([name] + dimensions.map { "\($0.0)=\($0.1)" }).joined(separator: ",")
        let counter = self.counters.withLock { counters in
            if let existing = counters[key] { return existing }
            let created =
                if let factory = self.factory {
                    Counter(label: name, dimensions: dimensions, factory: factory)
                } else {
                    Counter(label: name, dimensions: dimensions)
                }
            counters[key] = created
            return created
        }
        counter.increment(by: amount)
    }
}

/// Wakes the ``MaintenanceLoop`` before its next tick, e.g. when a session took a warm instance and the
/// buffer pool should be refilled now. Wakes coalesce: many signals while the loop works make one pass.
public final class MaintenanceSignal: Sendable {
    private let pending = Atomic<Bool>(false)

    /// A signal nobody has raised.
    public init() {}

    /// Asks for a maintenance pass soon.
    public func wake() {
        self.pending.store(true, ordering: .relaxed)
    }

    /// Whether a pass was asked for since the last call (and clears the request).
    func takeWake() -> Bool {
        self.pending.exchange(false, ordering: .relaxed)
    }
}
