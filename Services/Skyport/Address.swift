/// Splits `host:port` (the last colon separates them, so `[::1]:7000` works); `nil` when the port is
/// not 1 to 65535.
func splitAddress(_ address: String) -> (host: String, port: Int)? {
    guard let colon = address.lastIndex(of: ":"), colon != address.startIndex,
        let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port)
    else { return nil }
    return (String(address[..<colon]), port)
}
