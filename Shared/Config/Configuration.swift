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

    /// An error for a value of `key` that parsed but is not acceptable (checked after parsing, e.g. a file
    /// that cannot be read): the message names the key, where its value came from, and how to set it.
    public func invalid(_ key: any AnyConfigKey, _ problem: String) -> ConfigError {
        let source = self.source(of: key.name)
        let flag = "--" + ConfigSchema.flagName(key.name)
        let variable =
            "SKYPORT_" + ConfigSchema.environmentName(self.service) + "_" + ConfigSchema.environmentName(key.name)
        let origin = source.map { " (from \($0))" } ?? ""
        return ConfigError(
            kind: .invalidValue, key: key.name, source: source,
            message: "invalid \(key.name)\(origin): \(problem); set flag \(flag) or environment variable \(variable)")
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
