/// Data centres and one address each, as `dc1=host:port,dc2=host:port` (e.g. the host managements
/// entitlement, redemption nodes and peer host managements call). Entries keep their written order.
public struct DatacentreAddresses: ConfigValue, Hashable, CustomStringConvertible {
    /// Data centre → address, in the order written.
    public let entries: [(datacentre: String, address: HostAndPort)]

    /// Addresses from `entries`.
    public init(_ entries: [(datacentre: String, address: HostAndPort)]) {
        self.entries = entries
    }

    /// The address of `datacentre`, if listed.
    public subscript(datacentre: String) -> HostAndPort? {
        self.entries.first { $0.datacentre == datacentre }?.address
    }

    /// The data centres, in the order written.
    public var datacentres: [String] { self.entries.map(\.datacentre) }

    /// `dc=host:port` entries.
    public static var expectation: String { "dc1=host:port,dc2=host:port (one entry per data centre)" }

    /// `dc=host:port,…`.
    public static var placeholder: String { "dc=host:port,..." }

    /// Parses `dc1=host:port,dc2=host:port`; `nil` when an entry is malformed, a data centre repeats, or
    /// there is none.
    public static func parse(configText text: String) -> DatacentreAddresses? {
        var entries: [(datacentre: String, address: HostAndPort)] = []
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, let address = HostAndPort.parse(configText: String(parts[1])),
                !entries.contains(where: { $0.datacentre == parts[0] })
            else { return nil }
            entries.append((String(parts[0]), address))
        }
        return entries.isEmpty ? nil : DatacentreAddresses(entries)
    }

    /// `dc1=host:port,dc2=host:port`.
    public var configText: String {
        self.entries.map { "\($0.datacentre)=\($0.address.configText)" }.joined(separator: ",")
    }

    /// The same as `configText`.
    public var description: String { self.configText }

    public static func == (lhs: DatacentreAddresses, rhs: DatacentreAddresses) -> Bool {
        lhs.configText == rhs.configText
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.configText)
    }
}
