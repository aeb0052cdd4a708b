/// Who is on the other end of a call.
public struct PeerInfo: Sendable, Hashable, CustomStringConvertible {
    /// The remote address, e.g. `ipv4:127.0.0.1:51234`, or `in-process`.
    public var address: String
    /// The verified TLS identity of the client, when the connection used mutual TLS.
    public var identity: TLSIdentity?

    /// Creates peer information.
    public init(address: String, identity: TLSIdentity? = nil) {
        self.address = address
        self.identity = identity
    }

    /// The address, and the identity when there is one.
    public var description: String {
        if let identity { return "\(self.address) (\(identity))" }
        return self.address
    }
}

/// The names carried by a certificate that the server verified against its trusted CA.
public struct TLSIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The subject common name, if present.
    public var commonName: String?
    /// DNS subject alternative names.
    public var dnsNames: [String]
    /// URI subject alternative names (e.g. SPIFFE-style service identities).
    public var uris: [String]

    /// Creates an identity.
    public init(commonName: String?, dnsNames: [String] = [], uris: [String] = []) {
        self.commonName = commonName
        self.dnsNames = dnsNames
        self.uris = uris
    }

    /// Every name the certificate asserts: the common name first, then DNS names, then URIs.
    public var allNames: [String] {
        (self.commonName.map { [$0] } ?? []) + self.dnsNames + self.uris
    }

    /// The common name, or the first other name.
    public var description: String { self.allNames.first ?? "<anonymous>" }
}
