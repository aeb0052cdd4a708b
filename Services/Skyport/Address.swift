import SkyportConfig

/// `host:port` or `[v6]:port` as the configuration parser reads it (`HostAndPort`), with the brackets
/// dropped; `nil` for anything else, and for port 0 (the tool only ever dials).
func splitAddress(_ address: String) -> (host: String, port: Int)? {
    guard let parsed = HostAndPort.parse(configText: address), parsed.port >= 1 else { return nil }
    return (parsed.host, parsed.port)
}
