import Foundation

/// Ranks data centres for one client.
///
/// score (ms, lower wins, ties by id) =
///   distance km ÷ 100            (estimated network round trip from the client: ~1 ms per 100 km of
///                                 great-circle distance; 0 when the client is not located)
/// + measured latency ms          (the least of the node's last probe round trips to it)
/// + utilisation × 20             (load: 1 − free ÷ total slots)
///
/// Data centres that are down (last probe failed, or a forward could not reach them), not probed yet,
/// or without a free slot are skipped, with the reason in `skippedBecause`; they are listed after the
/// candidates. A skipped data centre still gets a would-be score (without the load penalty: as if it
/// were up with room), so a route can say which better one it had to pass over ("dc1: dc2 is down").
struct RouteRanker: Sendable {
    /// Estimated round trip per kilometre: 1 ms per 100 km.
    static let millisecondsPerKilometre = 0.01
    /// The load penalty of a full data centre.
    static let fullLoadPenaltyMilliseconds = 20.0

    /// Why a data centre is not a candidate.
    enum Skip: Sendable, Hashable {
        case down(String)
        case notProbed
        case full(total: UInt32)

        var text: String {
            switch self {
            case .down(let reason): "down: \(reason)"
            case .notProbed: "down: not probed yet"
            case .full(let total): "full: 0/\(total) slots free"
            }
        }
    }

    /// One data centre, scored.
    struct Candidate: Sendable, Hashable {
        var id: String
        /// The full score (for a skipped one: what it would be).
        var score: Double
        /// Great-circle km from the client; `nil` when the client is not located.
        var distanceKilometres: Double?
        var latencyMilliseconds: Double
        var freeSlots: UInt32
        var totalSlots: UInt32
        var skip: Skip?
    }

    /// The ranking for one client.
    struct Decision: Sendable, Hashable {
        /// Where the client is, when the prefix table knows.
        var client: PrefixTable.Location?
        /// Candidates best first, then the skipped ones (by would-be score).
        var candidates: [Candidate]
        /// The candidates only, best first.
        var eligible: [Candidate] { self.candidates.filter { $0.skip == nil } }
        /// What a redemption tries, in order: the candidates; when there is none, the data centres not
        /// probed yet (a node that has just started has heard from no one, and trying beats refusing).
        var toTry: [Candidate] {
            let eligible = self.eligible
            return eligible.isEmpty ? self.candidates.filter { $0.skip == .notProbed } : eligible
        }
    }

    /// Ranks `datacentres` for a client at `client` (`nil`: not located).
    func rank(client: PrefixTable.Location?, datacentres: [DataCentreStatus]) -> Decision {
        let scored = datacentres.map { status -> Candidate in
            let probe = status.probe
            let distance = client.map {
                Self.greatCircleKilometres(
                    from: ($0.latitude, $0.longitude), to: (status.datacentre.latitude, status.datacentre.longitude))
            }
            let skip: Skip? =
                if probe.probedAtMilliseconds == nil && probe.downReason == nil { .notProbed } else if !probe.up {
                    .down(probe.downReason ?? "last probe failed")
                } else if probe.freeSlots == 0 { .full(total: probe.totalSlots) } else { nil }
            let latency = probe.latencyMilliseconds ?? 0
            // A skipped data centre's would-be score is its score as if it were up with room: no load.
            let utilisation =
                skip != nil || probe.totalSlots == 0
                ? 0 : 1 - Double(min(probe.freeSlots, probe.totalSlots)) / Double(probe.totalSlots)
            let score =
                (distance ?? 0) * Self.millisecondsPerKilometre + latency + utilisation
                * Self.fullLoadPenaltyMilliseconds
            return Candidate(
                id: status.id, score: score, distanceKilometres: distance, latencyMilliseconds: latency,
                freeSlots: probe.freeSlots, totalSlots: probe.totalSlots, skip: skip)
        }
        let ordered = scored.sorted {
            ($0.skip == nil ? 0 : 1, $0.score, $0.id) < ($1.skip == nil ? 0 : 1, $1.score, $1.id)
        }
        return Decision(client: client, candidates: ordered)
    }

    /// The skipped data centres that would have ranked before `chosen`, best first.
    static func passedOver(_ chosen: Candidate, in decision: Decision) -> [Candidate] {
        decision.candidates.filter { $0.skip != nil && ($0.score, $0.id) < (chosen.score, chosen.id) }
            .sorted { ($0.score, $0.id) < ($1.score, $1.id) }
    }

    /// A one-line reason for choosing `chosen`, e.g. `dc2: nearest (312 km), up, 7/8 slots free` or
    /// `dc1: dc2 is down; 640 km, up, 3/8 slots free`. `failed` names data centres a forward already
    /// failed at, which come first in the reason. A data centre not probed yet is chosen only from
    /// ``Decision/toTry`` when no data centre is a candidate, and says so (and whether any was probed).
    static func reason(for chosen: Candidate, in decision: Decision, failed: [(id: String, why: String)] = []) -> String
    {
        let unprobed = chosen.skip == .notProbed
        let state = unprobed ? "not probed yet" : "up, \(chosen.freeSlots)/\(chosen.totalSlots) slots free"
        let place = chosen.distanceKilometres.map { "\(Int($0.rounded())) km" }
        if let failure = failed.first {
            return
                "\(chosen.id): \(failure.id) \(failure.why); \([place, state].compactMap { $0 }.joined(separator: ", "))"
        }
        if unprobed {
            let why =
                decision.candidates.allSatisfy { $0.skip == .notProbed }
                ? "tried first while no data centre is probed yet"
                : "not probed yet, tried as no probed data centre can take the session"
            return "\(chosen.id): \(why)" + (place.map { " (\($0))" } ?? "")
        }
        if let passed = Self.passedOver(chosen, in: decision).first, let skip = passed.skip {
            let why: String
            switch skip {
            case .down, .notProbed: why = "is down"
            case .full: why = "is full"
            }
            return "\(chosen.id): \(passed.id) \(why); \([place, state].compactMap { $0 }.joined(separator: ", "))"
        }
        guard let distance = chosen.distanceKilometres, let place else {
            return "\(chosen.id): lowest measured latency (\(Self.milliseconds(chosen.latencyMilliseconds)) ms) and "
                + "load, \(state); client not located"
        }
        let nearest = decision.eligible.allSatisfy { ($0.distanceKilometres ?? .infinity) >= distance }
        if nearest { return "\(chosen.id): nearest (\(place)), \(state)" }
        return "\(chosen.id): best score \(Self.milliseconds(chosen.score)) ms (\(place), "
            + "\(Self.milliseconds(chosen.latencyMilliseconds)) ms measured), \(state)"
    }

    /// The great-circle distance in km between two points in degrees (haversine, mean Earth radius).
    static func greatCircleKilometres(
        from a: (latitude: Double, longitude: Double), to b: (latitude: Double, longitude: Double)
    ) -> Double {
        let radians = Double.pi / 180
        let dLatitude = (b.latitude - a.latitude) * radians
        let dLongitude = (b.longitude - a.longitude) * radians
        let h =
            sin(dLatitude / 2) * sin(dLatitude / 2)
            + cos(a.latitude * radians) * cos(b.latitude * radians) * sin(dLongitude / 2) * sin(dLongitude / 2)
        return 2 * 6371.0088 * asin(min(1, sqrt(h)))
    }

    /// One decimal, for reasons.
    static func milliseconds(_ value: Double) -> String {
        String(format: "%.1f", value)
    }
}
