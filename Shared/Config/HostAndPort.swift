/// A network address as `host:port`, e.g. `127.0.0.1:8443`, `localhost:0` or `[::1]:8443`.
public struct HostAndPort: ConfigValue, Hashable, CustomStringConvertible {
    /// The host name or IP address, without brackets.
    public let host: String
    /// The port, 0 to 65535 (0 asks the system for a free one).
    public let port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`.
    public static var expectation: String { "host:port (e.g. 127.0.0.1:8443 or [::1]:8443)" }

    /// `host:port`.
    public static var placeholder: String { "host:port" }

    /// Parses `host:port`; IPv6 hosts must be bracketed.
    public static func parse(configText text: String) -> HostAndPort? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = Substring(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText),
            port <= 65535
        else { return nil }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return nil }
            host = host.dropFirst().dropLast()
        } else if host.utf8.contains(UInt8(ascii: ":")) {
            return nil
        }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else { return nil }
        return HostAndPort(host: String(host), port: port)
    }

    /// `host:port`, bracketing IPv6 hosts.
    public var configText: String {
        self.host.utf8.contains(UInt8(ascii: ":")) ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
    /// The same as `configText`.
    public var description: String { self.configText }
}
