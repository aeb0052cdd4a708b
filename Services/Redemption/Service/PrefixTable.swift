import Foundation
public import SkyportTokens

/// Where client addresses are: a table of IPv4 and IPv6 prefixes with a location, region and network
/// provider each, read from a CSV file (`prefix-table`); the longest matching prefix wins.
///
/// The file has a header line `cidr,latitude,longitude,region,network_provider`, then one prefix per
/// line, e.g. `203.0.113.0/24,52.37,4.90,eu-west,ExampleNet`. Blank lines and lines starting with `#`
/// are skipped; fields are not quoted (none may contain a comma or a quote). Files are bounded by
/// ``maximumFileSize``.
///
/// Lookups hash the address masked to each prefix length the table uses, longest first: at most 33
/// (IPv4) or 129 (IPv6) dictionary look-ups whatever the table's size, never a scan of its rows.
public struct PrefixTable: Sendable {
    /// What a prefix says about the addresses inside it.
    public struct Location: Sendable, Hashable {
        /// The prefix that matched.
        public var prefix: CIDR
        /// Degrees.
        public var latitude: Double
        /// Degrees.
        public var longitude: Double
        /// Region name, e.g. `eu-west`.
        public var region: String
        /// The client's network provider, e.g. `ExampleNet`.
        public var networkProvider: String
    }

    /// The largest file accepted: 16 MiB.
    public static let maximumFileSize = 16 << 20
    /// The header line.
    public static let header = "cidr,latitude,longitude,region,network_provider"

    private var locations: [Location] = []
    /// Per prefix length, longest first: masked network → index into `locations`.
    private var v4: [(length: Int, networks: [UInt32: Int])] = []
    private var v6: [(length: Int, networks: [UInt128: Int])] = []

    /// An empty table: no client is located.
    public init() {}

    /// Reads and parses the CSV file at `path`.
    ///
    /// - Throws: ``PrefixTableError`` naming the file, and the line and problem for a bad line.
    public init(contentsOfFile path: String) throws(PrefixTableError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw PrefixTableError(file: path, line: nil, problem: "cannot be opened")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            // One byte past the bound is enough to refuse a larger file without reading all of it.
            data = try handle.read(upToCount: Self.maximumFileSize + 1) ?? Data()
        } catch {
            throw PrefixTableError(file: path, line: nil, problem: "cannot be read: \(error)")
        }
        guard data.count <= Self.maximumFileSize else {
            throw PrefixTableError(file: path, line: nil, problem: "is larger than \(Self.maximumFileSize) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PrefixTableError(file: path, line: nil, problem: "is not UTF-8 text")
        }
        try self.init(csv: text, file: path)
    }

    /// Parses CSV `csv`; `file` names it in errors.
    ///
    /// - Throws: ``PrefixTableError`` with the line number and problem of the first bad line.
    public init(csv: String, file: String) throws(PrefixTableError) {
        var sawHeader = false
        var firstLine: [CIDR: Int] = [:]
        var v4: [Int: [UInt32: Int]] = [:]
        var v6: [Int: [UInt128: Int]] = [:]
        // Split on the UTF-8 bytes: as Characters, "\r\n" is one grapheme that is not "\n".
        for (index, bytes) in csv.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .enumerated()
        {
            let number = index + 1
            func fail(_ problem: String) -> PrefixTableError {
                PrefixTableError(file: file, line: number, problem: problem)
            }
            var rawLine = Substring(bytes)
            if rawLine.utf8.last == UInt8(ascii: "\r") { rawLine = Substring(rawLine.utf8.dropLast()) }
            var line = rawLine.trimmingSpaces
            if index == 0, line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmingSpaces)
            if !sawHeader {
                guard fields.joined(separator: ",").lowercased() == Self.header else {
                    throw fail("expected the header \(Self.header)")
                }
                sawHeader = true
                continue
            }
            guard fields.count == 5 else { throw fail("expected 5 fields, found \(fields.count)") }
            guard !line.contains("\"") else { throw fail("quoted fields are not supported") }
            guard let prefix = CIDR(fields[0]) else { throw fail("\"\(fields[0].prefix(64))\" is not a CIDR block") }
            guard let latitude = Double(fields[1]), (-90...90).contains(latitude) else {
                throw fail("latitude must be a number from -90 to 90")
            }
            guard let longitude = Double(fields[2]), (-180...180).contains(longitude) else {
                throw fail("longitude must be a number from -180 to 180")
            }
            guard fields[3].utf8.count <= 64, fields[4].utf8.count <= 128 else {
                throw fail("region (64 bytes) or network provider (128 bytes) is too long")
            }
            if let earlier = firstLine[prefix] { throw fail("\(prefix) repeats line \(earlier)") }
            firstLine[prefix] = number
            let location = self.locations.count
            self.locations.append(
                Location(
                    prefix: prefix, latitude: latitude, longitude: longitude, region: fields[3],
                    networkProvider: fields[4]))
            if prefix.network.count == 4 {
                v4[prefix.prefixLength, default: [:]][Self.integer(prefix.network, as: UInt32.self)] = location
            } else {
                v6[prefix.prefixLength, default: [:]][Self.integer(prefix.network, as: UInt128.self)] = location
            }
        }
        guard sawHeader else { throw PrefixTableError(file: file, line: nil, problem: "has no header line") }
        self.v4 = v4.sorted { $0.key > $1.key }.map { ($0.key, $0.value) }
        self.v6 = v6.sorted { $0.key > $1.key }.map { ($0.key, $0.value) }
    }

    /// How many prefixes the table holds.
    public var count: Int { self.locations.count }

    /// The location of the longest prefix containing `address` (IPv4, IPv6, or IPv4-mapped IPv6, which
    /// counts as IPv4); `nil` when none does or it is not an address.
    public func locate(_ address: String) -> Location? {
        guard !address.utf8.contains(UInt8(ascii: "/")), let block = CIDR(address),
            block.prefixLength == block.network.count * 8
        else {
            return nil
        }
        var bytes = block.network
        if bytes.count == 16, bytes.prefix(12).elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]) {
            bytes = Array(bytes.suffix(4))
        }
        if bytes.count == 4 {
            let value = Self.integer(bytes, as: UInt32.self)
            for (length, networks) in self.v4 {
                if let index = networks[value & (UInt32.max << (32 - length))] { return self.locations[index] }
            }
        } else {
            let value = Self.integer(bytes, as: UInt128.self)
            for (length, networks) in self.v6 {
                if let index = networks[value & (UInt128.max << (128 - length))] { return self.locations[index] }
            }
        }
        return nil
    }

    /// Big-endian `bytes` as an integer.
    private static func integer<T: FixedWidthInteger & UnsignedInteger>(_ bytes: [UInt8], as: T.Type) -> T {
        bytes.reduce(T.zero) { $0 << 8 | T($1) }
    }
}

/// A prefix table could not be loaded: the file, the line (when one is to blame) and the problem.
public struct PrefixTableError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file's path.
    public var file: String
    /// The 1-based line number, or `nil` for the file as a whole.
    public var line: Int?
    /// What is wrong.
    public var problem: String

    /// `<file> line <n>: <problem>`.
    public var description: String {
        if let line { return "\(self.file) line \(line): \(self.problem)" }
        return "\(self.file) \(self.problem)"
    }
}
