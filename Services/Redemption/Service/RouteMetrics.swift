import Metrics
import Synchronization

/// `skyport_redemption_routes_total{datacentre, reason}`: redemptions forwarded successfully, by the
/// data centre that took them and why it was chosen (``Reason``, a fixed set).
final class RouteMetrics: Sendable {
    /// Why a data centre took a redemption.
    enum Reason: String, Sendable, CaseIterable {
        /// It was the best-scored data centre.
        case best
        /// A better one was down (or not probed yet).
        case fallbackDown = "fallback_down"
        /// A better one had no free slot.
        case fallbackFull = "fallback_full"
        /// A forward to a better one failed (unreachable, timed out, or out of capacity).
        case fallbackError = "fallback_error"
    }

    private let factory: any MetricsFactory
    private let counters = Mutex<[String: Counter]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Counts one redemption routed to `datacentre` for `reason`.
    func routed(to datacentre: String, _ reason: Reason) {
        let key = "\(datacentre) \(reason.rawValue)"
        let counter = self.counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "skyport_redemption_routes_total",
                dimensions: [("datacentre", datacentre), ("reason", reason.rawValue)], factory: self.factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }
}
