import SkyportRPC
import Testing

@Suite struct GRPCTimeoutTests {
    @Test(arguments: [
        ("1H", Duration.seconds(3600)), ("2M", .seconds(120)), ("3S", .seconds(3)), ("4m", .milliseconds(4)),
        ("5u", .microseconds(5)), ("6n", .nanoseconds(6)), ("99999999S", .seconds(99_999_999)), ("0m", .zero),
    ])
    func parsesEveryUnit(value: String, expected: Duration) {
        #expect(GRPCTimeout.parse(value) == expected)
    }

    @Test(arguments: ["", "S", "10", "100000000S", "1x", "-1S", "1.5S", " 1S", "1s", "abcS", "1SS"])
    func rejectsMalformedValues(value: String) {
        #expect(GRPCTimeout.parse(value) == nil)
    }

    @Test func encodesInTheFinestUnitThatFits() {
        #expect(GRPCTimeout.encode(.nanoseconds(250)) == "250n")
        #expect(GRPCTimeout.encode(.milliseconds(1500)) == "1500000u")
        #expect(GRPCTimeout.encode(.seconds(30)) == "30000000u")
        #expect(GRPCTimeout.encode(.seconds(1000)) == "1000000m")
        #expect(GRPCTimeout.encode(.seconds(200_000)) == "200000S")
        #expect(GRPCTimeout.encode(.zero) == "0n")
        #expect(GRPCTimeout.encode(.seconds(-5)) == "0n")
    }

    @Test func encodeNeverShortensTheDeadline() {
        for duration in [Duration.nanoseconds(123_456_789_123), .seconds(7_777_777), .milliseconds(100_000_001)] {
            let parsed = GRPCTimeout.parse(GRPCTimeout.encode(duration))
            #expect(parsed != nil)
            #expect(parsed! >= duration)
        }
    }
}
