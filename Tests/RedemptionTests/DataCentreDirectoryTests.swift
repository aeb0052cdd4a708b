import Testing

@testable import RedemptionService

@Suite struct DataCentreDirectoryTests {
    static func directory() -> DataCentreDirectory {
        let directory = DataCentreDirectory()
        directory.replaceRows([
            RedemptionStore.DataCentre(
                id: "dc1", hostmgrAddress: "127.0.0.1:7103", latitude: 52.37, longitude: 4.90, region: "eu-west",
                updatedAtMilliseconds: 1)
        ])
        return directory
    }

    static func probe(_ directory: DataCentreDirectory, _ milliseconds: Int64, replacingLast: Bool = false) {
        directory.recordProbe(
            "dc1", address: "127.0.0.1:7103", outcome: .success((free: 4, total: 8)),
            roundTrip: .milliseconds(milliseconds), at: 1_000, replacingLast: replacingLast)
    }

    static func latency(_ directory: DataCentreDirectory) -> Double? {
        directory.statuses().first { $0.id == "dc1" }?.probe.latencyMilliseconds
    }

    @Test func latencyIsTheLeastOfTheRecentRoundTrips() {
        let directory = Self.directory()
        #expect(Self.latency(directory) == nil)
        for milliseconds: Int64 in [40, 3, 25] { Self.probe(directory, milliseconds) }
        // A busy moment only adds delay: the minimum is the path.
        #expect(Self.latency(directory) == 3)
        // Old samples leave the window.
        for _ in 0..<ProbeState.window { Self.probe(directory, 9) }
        #expect(Self.latency(directory) == 9)
    }

    @Test func aSampleWithConnectionSetUpIsReplaced() {
        let directory = Self.directory()
        Self.probe(directory, 80)
        Self.probe(directory, 2, replacingLast: true)
        #expect(directory.statuses().first?.probe.recentRoundTrips == [2])
    }
}
