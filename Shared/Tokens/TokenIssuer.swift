import SkyportInterop
import SkyportRPC

/// Mints session tokens with one signing key (host management's current one).
public struct TokenIssuer: Sendable {
    /// Default validity: 60 s.
    public static let defaultValidity: Duration = .seconds(60)
    /// Allowed validity: 1 s to 7 days.
    public static let validityRange: ClosedRange<Duration> = .seconds(1) ... .seconds(7 * 24 * 3600)

    /// The key tokens are signed with.
    public let key: TokenSigningKey
    /// The data centre named in every token as the session's home.
    public let homeDatacentre: String

    /// An issuer signing with `key` for `homeDatacentre`.
    public init(key: TokenSigningKey, homeDatacentre: String) {
        self.key = key
        self.homeDatacentre = homeDatacentre
    }

    /// A minted token: its text, its bytes and the claims it carries.
    public struct Issued: Sendable {
        /// The token (secret: give it to the client, store only ``SessionToken/hash(_:)``).
        public var token: String
        /// The same token as bytes (a serialized `SignedToken`).
        public var bytes: [UInt8]
        /// What it asserts.
        public var claims: SessionTokenClaims
    }

    /// Mints a token for `sessionID` valid for `validity` from `now`, optionally bound to `clientCIDR`.
    ///
    /// - Throws: `TokenIssuerError` for a validity outside ``validityRange``; `TLSError` if OpenSSL fails.
    public func issue(
        sessionID: String, appID: String, validity: Duration = Self.defaultValidity, clientCIDR: CIDR? = nil,
        nowMilliseconds: Int64
    ) throws -> Issued {
        guard Self.validityRange.contains(validity) else {
            throw TokenIssuerError("validity must be between 1 s and 7 days, not \(validity)")
        }
        let milliseconds = validity.wholeMilliseconds
        let claims = SessionTokenClaims(
            sessionID: sessionID, appID: appID, homeDatacentre: self.homeDatacentre,
            issuedAtMilliseconds: nowMilliseconds,
            expiresAtMilliseconds: nowMilliseconds + milliseconds, clientCIDR: clientCIDR,
            nonce: try SecureRandom.bytes(count: 32), keyID: self.key.keyID)
        let bytes = try SessionToken.signedBytes(claims, with: self.key)
        return Issued(token: SessionToken.prefix + Base64.encodeURL(bytes), bytes: bytes, claims: claims)
    }
}

/// A token could not be issued as asked.
public struct TokenIssuerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
