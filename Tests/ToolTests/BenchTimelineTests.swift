import Foundation
import Testing

@testable import SkyportTool

/// How `skyport bench-sessions --timeline` writes every start.
@Suite struct BenchTimelineTests {
    @Test func everyStartIsALineInTheOrderTheyBeganWithMillisecondsIntoItsPhase() throws {
        let phaseBegan = ContinuousClock.now
        var outcome = Starter.Outcome()
        // Finished out of order: the later start (at 4 ms) is recorded first.
        outcome.latencies = [.microseconds(9_500), .milliseconds(12)]
        outcome.requestLatencies = [.microseconds(2_250), .milliseconds(5)]
        outcome.redeemLatencies = [.microseconds(7_250), .milliseconds(7)]
        outcome.began = [phaseBegan + .milliseconds(4), phaseBegan + .microseconds(1_500)]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("timeline-\(getpid()).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }

        try BenchSessionsCommand.writeTimeline([("250/s", phaseBegan, outcome)], to: path)

        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(
            lines == [
                "phase,began_ms,total_ms,request_ms,redeem_ms",
                "250/s,1.500,12.000,5.000,7.000",
                "250/s,4.000,9.500,2.250,7.250",
            ])
    }
}
