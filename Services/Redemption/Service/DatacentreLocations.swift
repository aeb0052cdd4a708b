public import SkyportConfig

/// Where data centres are, as `dc1=52.37/4.90/eu-west,dc2=50.11/8.68/eu-central` (latitude/longitude in
/// degrees, then the region name). Entries keep their written order.
public struct DatacentreLocations: ConfigValue, Hashable, CustomStringConvertible {
    /// One data centre's place.
    public struct Location: Sendable, Hashable {
        /// Degrees, -90 to 90.
        public var latitude: Double
        /// Degrees, -180 to 180.
        public var longitude: Double
        /// The region name, e.g. `eu-west`.
        public var region: String

        /// A location from its parts.
        public init(latitude: Double, longitude: Double, region: String) {
            self.latitude = latitude
            self.longitude = longitude
            self.region = region
        }
    }

    /// Data centre → location, in the order written.
    public let entries: [(datacentre: String, location: Location)]

    /// Locations from `entries`.
    public init(_ entries: [(datacentre: String, location: Location)]) {
        self.entries = entries
    }

    /// The location of `datacentre`, if listed.
    public subscript(datacentre: String) -> Location? {
        self.entries.first { $0.datacentre == datacentre }?.location
    }

    /// `dc=latitude/longitude/region` entries.
    public static var expectation: String {
        "dc1=latitude/longitude/region,dc2=... (degrees, e.g. dc1=52.37/4.90/eu-west)"
    }

    /// `dc=lat/lon/region,...`.
    public static var placeholder: String { "dc=lat/lon/region,..." }

    /// Parses the entries; `nil` when one is malformed, out of range, or repeats a data centre.
    public static func parse(configText text: String) -> DatacentreLocations? {
        var entries: [(datacentre: String, location: Location)] = []
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, !entries.contains(where: { $0.datacentre == parts[0] }) else {
                return nil
            }
            let fields = parts[1].split(separator: "/", omittingEmptySubsequences: false)
            guard fields.count == 3, let latitude = Double(fields[0]), let longitude = Double(fields[1]),
                (-90...90).contains(latitude), (-180...180).contains(longitude), !fields[2].isEmpty
            else { return nil }
            entries.append(
                (String(parts[0]), Location(latitude: latitude, longitude: longitude, region: String(fields[2]))))
        }
        return entries.isEmpty ? nil : DatacentreLocations(entries)
    }

    /// `dc1=lat/lon/region,...`.
    public var configText: String {
        self.entries.map { "\($0.datacentre)=\($0.location.latitude)/\($0.location.longitude)/\($0.location.region)" }
            .joined(separator: ",")
    }

    /// The same as `configText`.
    public var description: String { self.configText }

    /// Equal when they read the same.
    public static func == (lhs: DatacentreLocations, rhs: DatacentreLocations) -> Bool {
        lhs.configText == rhs.configText
    }

    /// Hashes the text.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.configText)
    }
}
