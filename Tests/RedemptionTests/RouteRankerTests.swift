import SkyportTokens
import Testing

@testable import RedemptionService

@Suite struct RouteRankerTests {
    /// Amsterdam and Frankfurt, as the default `datacentre-locations` has them.
    static func status(
        _ id: String, up: Bool = true, latency: Double = 2, free: UInt32 = 7, total: UInt32 = 8
    ) -> DataCentreStatus {
        let (latitude, longitude) = id == "dc1" ? (52.37, 4.90) : (50.11, 8.68)
        var probe = ProbeState()
        probe.probedAtMilliseconds = 1_000
        probe.up = up
        probe.downReason = up ? nil : "last probe failed (UNAVAILABLE)"
        probe.recentRoundTrips = [latency]
        probe.freeSlots = free
        probe.totalSlots = total
        return DataCentreStatus(
            datacentre: RedemptionStore.DataCentre(
                id: id, hostmgrAddress: "127.0.0.1:7103", latitude: latitude, longitude: longitude,
                region: id == "dc1" ? "eu-west" : "eu-central", updatedAtMilliseconds: 0),
            probe: probe)
    }

    /// A client in Munich: 304 km from Frankfurt (dc2), 668 km from Amsterdam (dc1).
    static let munich = PrefixTable.Location(
        prefix: CIDR("198.51.100.0/24")!, latitude: 48.14, longitude: 11.58, region: "eu-central",
        networkProvider: "MunichNet")

    @Test func greatCircleDistances() {
        let km = RouteRanker.greatCircleKilometres(from: (52.37, 4.90), to: (50.11, 8.68))
        #expect(abs(km - 364) < 5, "Amsterdam–Frankfurt is ~364 km, not \(km)")
        #expect(RouteRanker.greatCircleKilometres(from: (0, 0), to: (0, 0)) == 0)
        let antipodes = RouteRanker.greatCircleKilometres(from: (0, 0), to: (0, 180))
        #expect(abs(antipodes - 20_015) < 5)
    }

    @Test func aClientNearDc2GoesToDc2WithTheScoreSpelledOut() throws {
        let decision = RouteRanker().rank(client: Self.munich, datacentres: [Self.status("dc1"), Self.status("dc2")])
        #expect(decision.candidates.map(\.id) == ["dc2", "dc1"])
        let best = try #require(decision.eligible.first)
        let distance = try #require(best.distanceKilometres)
        #expect(abs(distance - 304) < 5)
        // score = km / 100 + measured latency + utilisation × 20.
        #expect(abs(best.score - (distance / 100 + 2 + 1.0 / 8 * 20)) < 1e-9)
        #expect(RouteRanker.reason(for: best, in: decision) == "dc2: nearest (304 km), up, 7/8 slots free")
        #expect(RouteRanker.passedOver(best, in: decision).isEmpty)
    }

    @Test func dc2DownSendsTheClientToDc1AndSaysWhy() throws {
        let decision = RouteRanker().rank(
            client: Self.munich, datacentres: [Self.status("dc1"), Self.status("dc2", up: false)])
        #expect(decision.eligible.map(\.id) == ["dc1"])
        #expect(decision.candidates.map(\.id) == ["dc1", "dc2"])
        #expect(decision.candidates[1].skip?.text == "down: last probe failed (UNAVAILABLE)")
        let chosen = decision.eligible[0]
        #expect(RouteRanker.reason(for: chosen, in: decision) == "dc1: dc2 is down; 668 km, up, 7/8 slots free")
        #expect(RouteRanker.passedOver(chosen, in: decision).map(\.id) == ["dc2"])
    }

    @Test func dc2FullSendsTheClientToDc1() throws {
        let decision = RouteRanker().rank(
            client: Self.munich, datacentres: [Self.status("dc1", free: 3), Self.status("dc2", free: 0)])
        #expect(decision.eligible.map(\.id) == ["dc1"])
        #expect(decision.candidates[1].skip == .full(total: 8))
        #expect(decision.candidates[1].skip?.text == "full: 0/8 slots free")
        #expect(RouteRanker.reason(for: decision.eligible[0], in: decision).hasPrefix("dc1: dc2 is full; 668 km"))
    }

    @Test func loadAndMeasuredLatencyCanOutweighDistance() {
        // dc2 is 3.6 ms nearer by distance but 10 ms slower to reach: dc1 wins, with its score stated.
        let decision = RouteRanker().rank(
            client: Self.munich, datacentres: [Self.status("dc1", latency: 1), Self.status("dc2", latency: 11)])
        #expect(decision.eligible.map(\.id) == ["dc1", "dc2"])
        #expect(
            RouteRanker.reason(for: decision.eligible[0], in: decision).hasPrefix("dc1: best score 10.2 ms (668 km"))
    }

    @Test func unlocatedClientsRankByMeasuredLatencyAndLoad() {
        let decision = RouteRanker().rank(
            client: nil,
            datacentres: [
                Self.status("dc1", latency: 5, free: 8), Self.status("dc2", latency: 3, free: 1),
                Self.status("dc3", latency: 1, free: 7),
            ])
        // dc1: 5 + 0 = 5; dc2: 3 + 17.5 = 20.5; dc3: 1 + 2.5 = 3.5.
        #expect(decision.eligible.map(\.id) == ["dc3", "dc1", "dc2"])
        #expect(decision.candidates.allSatisfy { $0.distanceKilometres == nil })
        #expect(
            RouteRanker.reason(for: decision.eligible[0], in: decision)
                == "dc3: lowest measured latency (1.0 ms) and load, up, 7/8 slots free; client not located")
    }

    @Test func tiesGoByIdAndUnprobedDataCentresAreSkipped() {
        var unprobed = Self.status("dc0")
        unprobed.probe = ProbeState()
        let decision = RouteRanker().rank(client: nil, datacentres: [Self.status("dc2"), Self.status("dc1"), unprobed])
        #expect(decision.eligible.map(\.id) == ["dc1", "dc2"])
        #expect(decision.candidates.last?.skip?.text == "down: not probed yet")
        #expect(decision.toTry.map(\.id) == ["dc1", "dc2"])
    }

    @Test func withNoCandidateARedemptionTriesTheUnprobedButNeverTheDownOrFull() {
        var unprobed = Self.status("dc0")
        unprobed.probe = ProbeState()
        let decision = RouteRanker().rank(
            client: nil, datacentres: [Self.status("dc1", up: false), Self.status("dc2", free: 0), unprobed])
        #expect(decision.eligible.isEmpty)
        #expect(decision.toTry.map(\.id) == ["dc0"])
        // dc1 and dc2 were probed (down, full): the reason says dc0 is tried because of them.
        #expect(
            RouteRanker.reason(for: decision.toTry[0], in: decision)
                == "dc0: not probed yet, tried as no probed data centre can take the session")
        // dc0 sits where dc2 does (Frankfurt), 304 km from the client.
        let located = RouteRanker().rank(client: Self.munich, datacentres: [unprobed])
        #expect(
            RouteRanker.reason(for: located.toTry[0], in: located)
                == "dc0: tried first while no data centre is probed yet (304 km)")
        #expect(
            RouteRanker.reason(for: located.toTry[0], in: located, failed: [("dc1", "did not answer (UNAVAILABLE)")])
                == "dc0: dc1 did not answer (UNAVAILABLE); 304 km, not probed yet")
        let known = RouteRanker().rank(client: nil, datacentres: [Self.status("dc1", up: false)])
        #expect(known.toTry.isEmpty)
    }

    @Test func theDecisionMessageCarriesEveryCandidate() {
        let decision = RouteRanker().rank(
            client: Self.munich, datacentres: [Self.status("dc1"), Self.status("dc2", up: false)])
        let message = RedemptionService.message(decision)
        #expect(message.clientLocated)
        #expect(message.clientRegion == "eu-central")
        #expect(message.networkProvider == "MunichNet")
        #expect(message.candidates.map(\.datacentreId) == ["dc1", "dc2"])
        #expect(message.candidates[0].score > 0)
        #expect(message.candidates[0].skippedBecause.isEmpty)
        #expect(message.candidates[1].score == 0)
        #expect(message.candidates[1].distanceKm > 300)
        #expect(message.candidates[1].skippedBecause.hasPrefix("down:"))
    }
}
