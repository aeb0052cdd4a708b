/// One configuration key a component reads: its name (`rpc.port`), type, default or requirement, help
/// line, and whether its value is secret (never echoed in errors, help or descriptions).
///
/// The key's flag is `--` plus the name with dots turned into dashes (`--rpc-port`); its environment
/// variable is `SKYPORT_<SERVICE>_<NAME>` with dots and dashes turned into underscores, upper-cased
/// (`SKYPORT_HOSTMGR_RPC_PORT`).
public struct ConfigKey<Value: ConfigValue>: Sendable {
    /// The dotted key name, e.g. `rpc.port`.
    public let name: String
    /// One line of help for `--help`.
    public let help: String
    /// Whether the value is secret: errors, help and descriptions never show it.
    public let isSecret: Bool
    /// The default; `nil` when the key is required.
    public let defaultValue: Value?

    /// A key with a default, used when neither a flag nor the environment sets it.
    public init(_ name: String, default defaultValue: Value, help: String, secret: Bool = false) {
        self.name = name
        self.help = help
        self.isSecret = secret
        self.defaultValue = defaultValue
    }

    private init(required name: String, help: String, secret: Bool) {
        self.name = name
        self.help = help
        self.isSecret = secret
        self.defaultValue = nil
    }

    /// A key that must be set by a flag or the environment; parsing fails without it.
    public static func required(_ name: String, help: String, secret: Bool = false) -> ConfigKey {
        ConfigKey(required: name, help: help, secret: secret)
    }
}

extension ConfigKey where Value: ExpressibleByNilLiteral {
    /// An optional key (its type is an `Optional`), `nil` unless a flag or the environment sets it.
    public init(_ name: String, help: String, secret: Bool = false) {
        self.init(name, default: nil, help: help, secret: secret)
    }
}

/// A configuration key with its value type erased, so a schema can list keys of different types.
public protocol AnyConfigKey: Sendable {
    /// The dotted key name.
    var name: String { get }
    /// One line of help.
    var help: String { get }
    /// Whether the value is secret.
    var isSecret: Bool { get }
    /// Whether the key has no default.
    var isRequired: Bool { get }
    /// The default as text; `nil` when the key is required or its default is `nil`.
    var defaultText: String? { get }
    /// What a valid value looks like.
    var expectation: String { get }
    /// The short value name for `--help`.
    var placeholder: String { get }
    /// Whether the flag may stand alone to mean `true`.
    var isSwitch: Bool { get }
    /// Parses text into the key's value type; `nil` when invalid.
    func parseValue(_ text: String) -> (any Sendable)?
    /// The default, boxed; `nil` when the key is required.
    var boxedDefault: (any Sendable)? { get }
}

extension ConfigKey: AnyConfigKey {
    /// Whether the key has no default.
    public var isRequired: Bool { self.defaultValue == nil }
    /// The default as text; `nil` when required or when an optional key defaults to `nil`.
    public var defaultText: String? {
        guard let defaultValue else { return nil }
        let text = defaultValue.configText
        return text.isEmpty && Value.self is any ExpressibleByNilLiteral.Type ? nil : text
    }
    /// `Value.expectation`.
    public var expectation: String { Value.expectation }
    /// `Value.placeholder`.
    public var placeholder: String { Value.placeholder }
    /// `Value.isSwitch`.
    public var isSwitch: Bool { Value.isSwitch }
    /// `Value.parse(configText:)`, boxed.
    public func parseValue(_ text: String) -> (any Sendable)? {
        guard let value = Value.parse(configText: text) else { return nil }
        return value
    }
    /// The default, boxed.
    public var boxedDefault: (any Sendable)? {
        guard let defaultValue else { return nil }
        return defaultValue
    }
}
