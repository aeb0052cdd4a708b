/// The parsed configuration of one service: every declared key with its value and source. A plain
/// `Sendable` value, read once at start and passed down.
public struct Configuration: Sendable, CustomStringConvertible {
    struct Entry: Sendable {
        var value: any Sendable
        var source: ConfigSource
        var isSecret: Bool
    }

    /// The service the configuration belongs to.
    public let service: String
    private let entries: [String: Entry]

    init(service: String, entries: [String: Entry]) {
        self.service = service
        self.entries = entries
    }

    /// The value of `key`.
    ///
    /// - Precondition: `key` was declared in the schema that produced this configuration (with the same
    ///   type); reading an undeclared key is a programming error.
    public subscript<Value: ConfigValue>(key: ConfigKey<Value>) -> Value {
        guard let entry = self.entries[key.name] else {
            preconditionFailure("configuration key \(key.name) was not declared in the \(self.service) schema")
        }
        guard let value = entry.value as? Value else {
            preconditionFailure("configuration key \(key.name) was declared with another type than \(Value.self)")
        }
        return value
    }

    /// Where the value of the key named `name` came from; `nil` for an undeclared key.
    public func source(of name: String) -> ConfigSource? {
        self.entries[name]?.source
    }

    /// Every key, its value (secret ones redacted) and its source, sorted by key.
    public var description: String {
        let lines = self.entries.keys.sorted().map { name in
            let entry = self.entries[name]!
            let value = entry.isSecret ? "<redacted>" : Self.text(entry.value)
            return "\(name)=\(value) (\(entry.source))"
        }
        return "Configuration(\(self.service): \(lines.joined(separator: ", ")))"
    }

    private static func text(_ value: any Sendable) -> String {
        if let value = value as? any ConfigValue { return value.configText }
        return String(describing: value)
    }
}
