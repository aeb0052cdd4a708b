import Foundation
import Logging
@testable import SkyportService
import Testing

@Suite struct LogfmtLogHandlerTests {
    @Test func oneQuotedLinePerEventWithSortedKeys() {
        let logs = LogCollector()
        let logger = logs.logger(service: "billing")
        logger.info("call finished", metadata: ["z": "last", "a": "two words", "n": "line\nbreak", "q": "say \"hi\""])
        let line = logs.all.first ?? ""
        #expect(!line.contains("\n"))
        #expect(line.hasPrefix("ts="))
        #expect(line.contains(" level=info service=billing logger=billing msg=\"call finished\" "))
        #expect(line.contains(#"a="two words""#))
        #expect(line.contains(#"n="line\nbreak""#))
        #expect(line.contains(#"q="say \"hi\"""#))
        let keys = ["a=", "n=", "q=", "z="].map { line.range(of: " " + $0)!.lowerBound }
        #expect(keys == keys.sorted())
    }

    @Test func timestampsAreRFC3339UTCWithMillisecondsAndCurrent() throws {
        let stamp = LogfmtLogHandler.timestamp()
        #expect(stamp.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil, "\(stamp)")
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = try #require(parser.date(from: stamp))
        #expect(abs(parsed.timeIntervalSinceNow) < 5)
    }

    @Test func addsTheRequestIDOfTheCurrentCall() async {
        let logs = LogCollector()
        let logger = logs.logger()
        RequestContext.$requestID.withValue("abc-123") {
            logger.notice("inside")
        }
        logger.notice("outside")
        #expect(logs.all[0].contains("request_id=abc-123"))
        #expect(!logs.all[1].contains("request_id"))
    }

    @Test func dropsEventsBelowTheLevel() {
        let lines = LockedLines()
        var logger = Logger(label: "x") { label in
            LogfmtLogHandler(service: "x", label: label, level: .warning) { lines.append($0) }
        }
        logger.logLevel = .warning
        logger.info("hidden")
        logger.error("shown")
        #expect(lines.all.count == 1)
        #expect(lines.all[0].contains("level=error"))
    }
}
