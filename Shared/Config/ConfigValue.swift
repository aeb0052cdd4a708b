/// A type a configuration key can hold: parsed from the text of a flag, an environment variable or a
/// default.
public protocol ConfigValue: Sendable {
    /// What a valid value looks like, for error messages and `--help`, e.g. `an integer`.
    static var expectation: String { get }
    /// A short name for the value in `--help`, e.g. `int` in `--rpc-port <int>`.
    static var placeholder: String { get }
    /// Parses `text`; `nil` when it is not a valid value.
    static func parse(configText text: String) -> Self?
    /// The value written back as text that `parse` accepts (for `--help` defaults).
    var configText: String { get }
    /// Whether a flag of this type may stand alone (`--verbose`) to mean `true`; only `Bool`.
    static var isSwitch: Bool { get }
}

extension ConfigValue {
    /// Only `Bool` is a switch.
    public static var isSwitch: Bool { false }
}

extension Int: ConfigValue {
    /// `int`.
    public static var placeholder: String { "int" }
    /// `an integer`.
    public static var expectation: String { "an integer" }
    /// Decimal, optionally signed.
    public static func parse(configText text: String) -> Int? { Int(text) }
    /// The decimal text.
    public var configText: String { String(self) }
}

extension String: ConfigValue {
    /// `string`.
    public static var placeholder: String { "string" }
    /// `a string`.
    public static var expectation: String { "a string" }
    /// Any text, as given.
    public static func parse(configText text: String) -> String? { text }
    /// The string itself.
    public var configText: String { self }
}

extension Bool: ConfigValue {
    /// `bool`.
    public static var placeholder: String { "bool" }
    /// `true or false`.
    public static var expectation: String { "true or false (also 1/0, yes/no, on/off)" }
    /// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, any case.
    public static func parse(configText text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "1", "yes", "on": true
        case "false", "0", "no", "off": false
        default: nil
        }
    }
    /// `true` or `false`.
    public var configText: String { self ? "true" : "false" }
    /// `--flag` alone means `true`.
    public static var isSwitch: Bool { true }
}

extension Duration: ConfigValue {
    /// `duration`.
    public static var placeholder: String { "duration" }
    /// `a duration`.
    public static var expectation: String { "a duration with a unit: ms, s, m or h (e.g. 500ms, 30s, 1.5m)" }

    /// A non-negative decimal number followed by `ms`, `s`, `m` or `h`.
    public static func parse(configText text: String) -> Duration? {
        let units: [(suffix: String, milliseconds: Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            // Only digits and at most one dot: rejects signs, exponents, "inf" and "nan".
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                number.filter({ $0 == "." }).count <= 1, number != ".", let value = Double(number)
            else { continue }
            let milliseconds = value * unit.milliseconds
            guard milliseconds <= 1e15 else { return nil }
            return .microseconds(Int64((milliseconds * 1000).rounded()))
        }
        return nil
    }

    /// The shortest exact form among `h`, `m`, `s` and `ms`.
    public var configText: String {
        let milliseconds = self.components.seconds * 1000 + self.components.attoseconds / 1_000_000_000_000_000
        for (suffix, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000)]
        where milliseconds != 0 && milliseconds % size == 0 {
            return "\(milliseconds / size)\(suffix)"
        }
        return "\(milliseconds)ms"
    }
}

extension Optional: ConfigValue where Wrapped: ConfigValue {
    /// The wrapped type's expectation.
    public static var expectation: String { Wrapped.expectation }
    /// The wrapped type's placeholder.
    public static var placeholder: String { Wrapped.placeholder }
    /// The wrapped type's parse.
    public static func parse(configText text: String) -> Wrapped?? { Wrapped.parse(configText: text).map { .some($0) } }
    /// The wrapped value's text, or empty for `nil`.
    public var configText: String { self?.configText ?? "" }
    /// A switch when the wrapped type is.
    public static var isSwitch: Bool { Wrapped.isSwitch }
}
