import Synchronization

/// What the node last learnt about a data centre by probing it (and from forwards that failed).
struct ProbeState: Sendable, Hashable {
    /// When the last probe ended, Unix milliseconds; `nil` before the first.
    var probedAtMilliseconds: Int64?
    /// Whether the last probe succeeded and no forward failed since.
    var up = false
    /// Why it is down, for operators and route reasons.
    var downReason: String?
    /// The round trip of successful probes: the least of the last ``window`` (delays from a busy machine
    /// or network only ever add to a round trip, so the minimum is the path's own latency); `nil` before
    /// the first.
    var latencyMilliseconds: Double? { self.recentRoundTrips.min() }
    /// The last round trips, newest last.
    var recentRoundTrips: [Double] = []
    /// Spare capacity as of the last successful probe (a forward refused for capacity zeroes it).
    var freeSlots: UInt32 = 0
    /// All slots as of the last successful probe.
    var totalSlots: UInt32 = 0

    /// How many recent round trips the latency is the minimum of.
    static let window = 10
}

/// A data centre as routing sees it: its row and its probe state.
struct DataCentreStatus: Sendable, Hashable {
    var datacentre: RedemptionStore.DataCentre
    var probe: ProbeState
    var id: String { self.datacentre.id }
}

/// The data centres routing uses: the store's rows (cached, refreshed each probe cycle and on every
/// upsert) with their probe state. Small synchronous state, so a `Mutex`.
final class DataCentreDirectory: Sendable {
    private let state = Mutex<(rows: [String: RedemptionStore.DataCentre], probes: [String: ProbeState])>(([:], [:]))

    init() {}

    /// Replaces the cached rows with the store's.
    func replaceRows(_ rows: [RedemptionStore.DataCentre]) {
        self.state.withLock { state in
            for row in rows where state.rows[row.id]?.hostmgrAddress != row.hostmgrAddress {
                state.probes[row.id] = nil
            }
            state.rows = Dictionary(rows.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        }
    }

    /// Adds or replaces one row; a new host management address forgets the old one's probe state.
    func upsert(_ row: RedemptionStore.DataCentre) {
        self.state.withLock { state in
            if state.rows[row.id]?.hostmgrAddress != row.hostmgrAddress { state.probes[row.id] = nil }
            state.rows[row.id] = row
        }
    }

    /// Every data centre with its probe state, ordered by id.
    func statuses() -> [DataCentreStatus] {
        self.state.withLock { state in
            state.rows.values.sorted { $0.id < $1.id }.map {
                DataCentreStatus(datacentre: $0, probe: state.probes[$0.id] ?? ProbeState())
            }
        }
    }

    /// The host management address of `datacentre`, if known.
    func address(of datacentre: String) -> String? {
        self.state.withLock { $0.rows[datacentre]?.hostmgrAddress }
    }

    /// Records a probe of `datacentre` at `address`: its capacity and round trip, or why it failed.
    /// Ignored when the data centre moved to another address meanwhile. Returns the state before and
    /// after, so the caller can log changes.
    @discardableResult
    func recordProbe(
        _ datacentre: String, address: String, outcome: Result<(free: UInt32, total: UInt32), ProbeFailure>,
        roundTrip: Duration, at milliseconds: Int64, replacingLast: Bool = false
    ) -> (before: ProbeState, after: ProbeState)? {
        self.state.withLock { state in
            guard state.rows[datacentre]?.hostmgrAddress == address else { return nil }
            let before = state.probes[datacentre] ?? ProbeState()
            var after = before
            after.probedAtMilliseconds = milliseconds
            switch outcome {
            case .success(let capacity):
                let sample =
                    Double(roundTrip.components.seconds) * 1000 + Double(roundTrip.components.attoseconds) / 1e15
                // `replacingLast`: the previous sample included connection set-up.
                let kept = replacingLast ? before.recentRoundTrips.dropLast() : before.recentRoundTrips[...]
                after.recentRoundTrips = Array((kept + [sample]).suffix(ProbeState.window))
                after.up = true
                after.downReason = nil
                after.freeSlots = capacity.free
                after.totalSlots = capacity.total
            case .failure(let failure):
                after.up = false
                after.downReason = "last probe failed (\(failure.summary))"
            }
            state.probes[datacentre] = after
            return (before, after)
        }
    }

    /// Marks `datacentre` down until its next successful probe (a forward could not reach it).
    func markDown(_ datacentre: String, because reason: String) {
        self.state.withLock { state in
            guard state.rows[datacentre] != nil else { return }
            state.probes[datacentre, default: ProbeState()].up = false
            state.probes[datacentre, default: ProbeState()].downReason = reason
        }
    }

    /// Marks `datacentre` full until its next successful probe (it refused a session for capacity).
    func markFull(_ datacentre: String) {
        self.state.withLock { state in
            guard state.rows[datacentre] != nil else { return }
            state.probes[datacentre, default: ProbeState()].freeSlots = 0
        }
    }
}

/// Why a probe failed, short enough for a route reason: the status code, or the local error.
struct ProbeFailure: Error, Sendable, Hashable {
    var summary: String
}
