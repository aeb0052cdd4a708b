/// Where a configuration value came from.
public enum ConfigSource: Sendable, Hashable, CustomStringConvertible {
    /// A command-line flag, e.g. `--rpc-port`.
    case flag(String)
    /// An environment variable, e.g. `SKYPORT_HOSTMGR_RPC_PORT`.
    case environment(String)
    /// The key's declared default.
    case `default`

    /// `flag --rpc-port`, `environment SKYPORT_HOSTMGR_RPC_PORT` or `default`.
    public var description: String {
        switch self {
        case .flag(let flag): "flag \(flag)"
        case .environment(let name): "environment variable \(name)"
        case .default: "default"
        }
    }
}
