import Foundation
import Testing

@testable import RedemptionService

@Suite struct PrefixTableTests {
    static let header = "cidr,latitude,longitude,region,network_provider"

    static func table(_ lines: [String]) throws -> PrefixTable {
        try PrefixTable(csv: ([Self.header] + lines).joined(separator: "\n"), file: "prefixes.csv")
    }

    /// The error parsing `csv` ends with (or a recorded issue when it parses).
    static func failure(_ csv: String) -> PrefixTableError? {
        do {
            _ = try PrefixTable(csv: csv, file: "prefixes.csv")
            Issue.record("parsed: \(csv.debugDescription)")
            return nil
        } catch {
            return error
        }
    }

    @Test func theLongestPrefixWinsForIPv4AndIPv6() throws {
        let table = try Self.table([
            "# comment lines and blank lines are skipped",
            "",
            "10.0.0.0/8,1,1,wide,WideNet",
            "10.1.0.0/16,2,2,narrow,NarrowNet",
            "10.1.2.0/24,3,3,narrowest,NarrowestNet",
            "2001:db8::/32,4,4,v6-wide,V6Net",
            "2001:db8:aa::/48,5,5,v6-narrow,V6Narrow",
            "0.0.0.0/0,0,0,anywhere,",
        ])
        #expect(table.count == 6)
        #expect(table.locate("10.1.2.3")?.region == "narrowest")
        #expect(table.locate("10.1.3.3")?.region == "narrow")
        #expect(table.locate("10.200.0.1")?.region == "wide")
        #expect(table.locate("10.200.0.1")?.networkProvider == "WideNet")
        #expect(table.locate("192.0.2.1")?.region == "anywhere")
        #expect(table.locate("2001:db8:aa:1::9")?.region == "v6-narrow")
        #expect(table.locate("2001:db8:bb::9")?.latitude == 4)
        #expect(table.locate("2001:db9::1") == nil)
        // IPv4-mapped IPv6 is IPv4; blocks and names are not addresses.
        #expect(table.locate("::ffff:10.1.2.3")?.region == "narrowest")
        #expect(table.locate("10.1.2.0/24") == nil)
        #expect(table.locate("example.com") == nil)
        #expect(table.locate("10.1.2.3")?.prefix.description == "10.1.2.0/24")
    }

    @Test func crlfLinesAndSpacesAreAccepted() throws {
        let table = try PrefixTable(
            csv:
                "cidr, latitude, longitude, region, network_provider\r\n203.0.113.0/24, 52.4, 4.9, eu-west, AmsNet\r\n",
            file: "crlf.csv")
        #expect(table.locate("203.0.113.77")?.networkProvider == "AmsNet")
        #expect(table.locate("203.0.113.77")?.longitude == 4.9)
    }

    @Test func aBadLineNamesTheFileItsLineAndTheProblem() {
        let cases: [(lines: [String], line: Int, problem: String)] = [
            (["10.0.0.0/8,1,1,r,p", "10.0.0.0/33,1,1,r,p"], 3, "is not a CIDR block"),
            (["# c", "bogus,1,1,r,p"], 3, "is not a CIDR block"),
            (["10.0.0.0/8,91,1,r,p"], 2, "latitude"),
            (["10.0.0.0/8,1,-181,r,p"], 2, "longitude"),
            (["10.0.0.0/8,nan,1,r,p"], 2, "latitude"),
            (["10.0.0.0/8,1,1,r"], 2, "expected 5 fields, found 4"),
            (["", "", "10.0.0.0/8,1,1,r,p,extra"], 4, "expected 5 fields, found 6"),
            (["10.0.0.0/8,1,1,\"r\",p"], 2, "quoted"),
            (["10.0.0.0/8,1,1,r,p", "10.0.0.0/8,2,2,r,p"], 3, "repeats line 2"),
            (["2001:db8::/32,1,1,r,p", "2001:db8::/129,1,1,r,p"], 3, "is not a CIDR block"),
        ]
        for (lines, line, problem) in cases {
            guard let error = Self.failure(([Self.header] + lines).joined(separator: "\n")) else { continue }
            #expect(error.file == "prefixes.csv")
            #expect(error.line == line, "\(lines)")
            #expect(error.problem.contains(problem), "\(error)")
            #expect(error.description.hasPrefix("prefixes.csv line \(line): "))
        }
        #expect(Self.failure("10.0.0.0/8,1,1,r,p")?.line == 1)
        #expect(Self.failure("# only a comment\n")?.problem == "has no header line")
    }

    @Test func filesAreReadAndBounded() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("prefix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let good = directory.appendingPathComponent("good.csv").path
        try "\(Self.header)\n198.51.100.0/24,50.1,8.7,eu-central,FraNet\n".write(
            toFile: good, atomically: true, encoding: .utf8)
        #expect(try PrefixTable(contentsOfFile: good).locate("198.51.100.5")?.region == "eu-central")

        let big = directory.appendingPathComponent("big.csv").path
        _ = FileManager.default.createFile(atPath: big, contents: Data(count: PrefixTable.maximumFileSize + 1))
        #expect(throws: PrefixTableError(file: big, line: nil, problem: "is larger than 16777216 bytes")) {
            try PrefixTable(contentsOfFile: big)
        }
        let missing = directory.appendingPathComponent("missing.csv").path
        #expect(throws: PrefixTableError(file: missing, line: nil, problem: "cannot be opened")) {
            try PrefixTable(contentsOfFile: missing)
        }
    }

    @Test func aLargeTableLocatesEveryPrefix() throws {
        // 8,192 /24 blocks and as many /48s: lookups hash per prefix length instead of scanning rows.
        var lines = [Self.header]
        for index in 0..<8192 {
            lines.append("10.\(index >> 8).\(index & 0xFF).0/24,\(index % 90),\(index % 180),r\(index),p")
            lines.append("2001:db8:\(String(index, radix: 16))::/48,1,1,v6-\(index),p")
        }
        let table = try PrefixTable(csv: lines.joined(separator: "\n"), file: "big.csv")
        #expect(table.count == 16_384)
        #expect(table.locate("10.31.255.9")?.region == "r8191")
        #expect(table.locate("10.1.2.3")?.region == "r258")
        #expect(table.locate("2001:db8:ff:1::1")?.region == "v6-255")
        #expect(table.locate("10.32.0.1") == nil)
        #expect(table.locate("11.0.0.1") == nil)
    }
}
