/// Splits `host:port` or `[v6]:port` (the brackets are dropped); `nil` when the host is empty or the port
/// is not 1 to 65535.
func splitAddress(_ address: String) -> (host: String, port: Int)? {
    guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
        (1...65535).contains(port)
    else { return nil }
    var host = address[..<colon]
    if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
    guard !host.isEmpty else { return nil }
    return (String(host), port)
}
