/// Configuration could not be read: the message names the key, where the value came from and what was
/// expected. Values of secret keys are never included.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// A required key was set nowhere.
        case missingRequired
        /// A value did not parse as the key's type.
        case invalidValue
        /// A flag names no declared key.
        case unknownFlag
        /// A flag that needs a value was last, or followed by another flag.
        case missingFlagValue
        /// The same key was given twice on the command line.
        case duplicateFlag
        /// A command-line argument that is not a flag.
        case unexpectedArgument
        /// `--help` or `-h` was given; `ConfigSchema.helpText` is the answer.
        case helpRequested
    }

    /// What went wrong.
    public var kind: Kind
    /// The key concerned, when there is one.
    public var key: String?
    /// Where the offending value came from, when there is one.
    public var source: ConfigSource?
    /// The full message.
    public var message: String

    /// Creates an error.
    public init(kind: Kind, key: String?, source: ConfigSource?, message: String) {
        self.kind = kind
        self.key = key
        self.source = source
        self.message = message
    }

    /// The message.
    public var description: String { self.message }
}
