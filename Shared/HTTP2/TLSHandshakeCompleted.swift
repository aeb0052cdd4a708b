internal import SkyportRPC

/// Fired inbound by `TLSHandler` (as a user event) when the TLS handshake completed, before any
/// plaintext is passed on: the point where a handshake timeout can be cancelled and where the
/// connection learns who the peer is.
struct TLSHandshakeCompleted: Sendable, Hashable {
    /// The ALPN protocol both ends agreed on (`h2` with the default configuration).
    var alpn: String?
    /// The peer's verified certificate names; `nil` when the peer presented no certificate
    /// (the client of a server that does not require mutual TLS).
    var peerIdentity: TLSIdentity?

    /// Creates the event.
    init(alpn: String?, peerIdentity: TLSIdentity?) {
        self.alpn = alpn
        self.peerIdentity = peerIdentity
    }
}
