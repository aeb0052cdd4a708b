/// A URL-shaped configuration value such as `postgres://db:5432/billing` or `sqlite:///var/lib/x.db`:
/// a scheme, `:`, and a non-empty remainder. Only the shape is checked; the component that uses it
/// interprets the rest.
public struct ConfigURL: ConfigValue, Hashable, CustomStringConvertible {
    /// The scheme, lower-cased, e.g. `postgres`.
    public let scheme: String
    /// The whole URL as given.
    public let string: String

    /// Parses `string`; `nil` without a valid scheme (letter, then letters, digits, `+`, `-`, `.`).
    public init?(_ string: String) {
        guard let colon = string.firstIndex(of: ":") else { return nil }
        let scheme = string[..<colon]
        let rest = string[string.index(after: colon)...]
        guard let first = scheme.first, first.isASCII, first.isLetter, !rest.isEmpty,
            scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { return nil }
        self.scheme = scheme.lowercased()
        self.string = string
    }

    /// `a URL`.
    public static var expectation: String { "a URL such as scheme://host/path" }
    /// `url`.
    public static var placeholder: String { "url" }
    /// The same as `init?(_:)`.
    public static func parse(configText text: String) -> ConfigURL? { ConfigURL(text) }
    /// The URL as given.
    public var configText: String { self.string }
    /// The URL as given. Components holding credentials should be declared secret.
    public var description: String { self.string }
}
