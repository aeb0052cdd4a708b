import Foundation

/// The configuration keys of one service, and the reader that fills them in layers: command-line flags
/// first, then environment variables, then defaults.
///
/// ```swift
/// enum Keys {
///     static let port = ConfigKey<Int>("rpc.port", default: 8443, help: "Port the RPC server listens on.")
///     static let store = ConfigKey<ConfigURL>.required("store.url", help: "Where the service keeps its data.")
/// }
/// let schema = ConfigSchema(service: "hostmgr", keys: [Keys.port, Keys.store])
/// let config = try schema.parse(arguments: ["--rpc-port=9000"], environment: ProcessInfo.processInfo.environment)
/// let port = config[Keys.port]  // 9000
/// ```
public struct ConfigSchema: Sendable {
    /// The service name, e.g. `hostmgr`; it names the environment variables.
    public let service: String
    /// Every key, in the order `--help` lists them.
    public let keys: [any AnyConfigKey]

    /// Declares a service's keys. Key names must be unique (checked: a duplicate is a programming error).
    public init(service: String, keys: [any AnyConfigKey]) {
        var seen = Set<String>()
        for key in keys {
            precondition(!key.name.isEmpty, "configuration key names must not be empty")
            precondition(seen.insert(Self.flagName(key.name)).inserted, "configuration key \(key.name) declared twice")
        }
        self.service = service
        self.keys = keys
    }

    /// The flag for `key`: `--` and the name with dots and underscores turned into dashes.
    public func flag(for key: any AnyConfigKey) -> String { "--" + Self.flagName(key.name) }

    /// The environment variable for `key`: `SKYPORT_<SERVICE>_<KEY>`, upper-cased, with dots and dashes
    /// turned into underscores.
    public func environmentVariable(for key: any AnyConfigKey) -> String {
        "SKYPORT_" + Self.environmentName(self.service) + "_" + Self.environmentName(key.name)
    }

    /// Whether the arguments ask for help (`--help` or `-h`).
    public static func isHelpRequested(_ arguments: [String]) -> Bool {
        arguments.contains { $0 == "--help" || $0 == "-h" }
    }

    /// Reads every key once, flags over environment over defaults.
    ///
    /// Flags are `--name value` or `--name=value`; a `Bool` flag alone means `true`.
    /// - Parameters:
    ///   - arguments: the command-line arguments without the program name.
    ///   - environment: the process environment.
    /// - Throws: `ConfigError` for `--help`, an unknown or repeated flag, a stray argument, a bad value or
    ///   a missing required key; the message names the key, its source and what was expected.
    public func parse(arguments: [String], environment: [String: String]) throws(ConfigError) -> Configuration {
        if Self.isHelpRequested(arguments) {
            throw ConfigError(kind: .helpRequested, key: nil, source: nil, message: "help requested")
        }
        var keysByFlag: [String: any AnyConfigKey] = [:]
        for key in self.keys { keysByFlag[self.flag(for: key)] = key }

        var flagged: [String: (text: String, flag: String)] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw ConfigError(
                    kind: .unexpectedArgument, key: nil, source: nil,
                    message: "unexpected argument '\(argument)': options are --name value or --name=value (see --help)")
            }
            let flag: String
            var text: String?
            if let equals = argument.firstIndex(of: "=") {
                flag = String(argument[..<equals])
                text = String(argument[argument.index(after: equals)...])
            } else {
                flag = argument
            }
            guard let key = keysByFlag[flag] else {
                // Only the flag name: whatever followed `=` may be a secret meant for another flag.
                throw ConfigError(
                    kind: .unknownFlag, key: nil, source: .flag(flag), message: "unknown flag \(flag) (see --help)")
            }
            guard flagged[key.name] == nil else {
                throw ConfigError(
                    kind: .duplicateFlag, key: key.name, source: .flag(flag),
                    message: "\(key.name): flag \(flag) given more than once")
            }
            if text == nil {
                if key.isSwitch {
                    text = "true"
                } else if index < arguments.count, !arguments[index].hasPrefix("--") {
                    text = arguments[index]
                    index += 1
                } else {
                    throw ConfigError(
                        kind: .missingFlagValue, key: key.name, source: .flag(flag),
                        message: "\(key.name): flag \(flag) needs a value: expected \(key.expectation)")
                }
            }
            flagged[key.name] = (text!, flag)
        }

        var values: [String: Configuration.Entry] = [:]
        for key in self.keys {
            let variable = self.environmentVariable(for: key)
            let text: String
            let source: ConfigSource
            if let given = flagged[key.name] {
                (text, source) = (given.text, .flag(given.flag))
            } else if let value = environment[variable] {
                (text, source) = (value, .environment(variable))
            } else if let value = key.boxedDefault {
                values[key.name] = Configuration.Entry(value: value, source: .default, isSecret: key.isSecret)
                continue
            } else {
                throw ConfigError(
                    kind: .missingRequired, key: key.name, source: nil,
                    message: "missing required configuration \(key.name): set flag \(self.flag(for: key)) "
                        + "or environment variable \(variable) (expected \(key.expectation))")
            }
            guard let value = key.parseValue(text) else {
                let shown = key.isSecret ? "a value (hidden: secret)" : "'\(text)'"
                throw ConfigError(
                    kind: .invalidValue, key: key.name, source: source,
                    message: "invalid \(key.name): \(shown) from \(source): expected \(key.expectation)")
            }
            values[key.name] = Configuration.Entry(value: value, source: source, isSecret: key.isSecret)
        }
        return Configuration(service: self.service, entries: values)
    }

    /// Parses the process's own arguments and environment; on `--help` prints `helpText` and exits 0, on
    /// an error prints it to standard error and exits 64 (`EX_USAGE`). For `main` only.
    public func parseOrExit() -> Configuration {
        self.parseOrExit(
            arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
    }

    /// `parseOrExit()` over the given arguments and environment.
    public func parseOrExit(arguments: [String], environment: [String: String]) -> Configuration {
        do {
            return try self.parse(arguments: arguments, environment: environment)
        } catch where error.kind == .helpRequested {
            print(self.helpText(), terminator: "")
            exit(0)
        } catch {
            FileHandle.standardError.write(Data("\(self.service): \(error)\n".utf8))
            exit(64)
        }
    }

    /// `--help`: every key with its flag, environment variable, default and help, generated from the
    /// schema so it cannot drift from what `parse` reads. Secret defaults are not shown.
    public func helpText() -> String {
        var text = "Usage: \(self.service) [options]\n\n"
        text += "Each option is read from its flag, then its environment variable, then its default.\n\n"
        text += "Options:\n"
        for key in self.keys {
            let value = key.isSwitch ? "[=<\(key.placeholder)>]" : " <\(key.placeholder)>"
            text += "  \(self.flag(for: key))\(value)\n"
            text += "      \(key.help)\n"
            let defaultText: String
            if key.isRequired {
                defaultText = "required"
            } else if let shown = key.defaultText {
                defaultText = key.isSecret ? "default: (secret)" : "default: \(shown)"
            } else {
                defaultText = "default: none"
            }
            text += "      env: \(self.environmentVariable(for: key)); \(defaultText)\n"
        }
        text += "  --help\n      Show this help and exit.\n"
        return text
    }

    static func flagName(_ name: String) -> String {
        String(name.map { $0 == "." || $0 == "_" ? "-" : $0 })
    }

    static func environmentName(_ name: String) -> String {
        String(name.uppercased().map { $0 == "." || $0 == "-" ? "_" : $0 })
    }
}
