/// What a session token asserts, decoded from `skyport.token.v1.TokenClaims`.
public struct SessionTokenClaims: Sendable, Hashable {
    /// The session the token redeems.
    public var sessionID: String
    /// The application.
    public var appID: String
    /// The data centre whose host management owns the session's one-time claim.
    public var homeDatacentre: String
    /// When it was minted, Unix milliseconds.
    public var issuedAtMilliseconds: Int64
    /// When it stops being redeemable, Unix milliseconds.
    public var expiresAtMilliseconds: Int64
    /// The client address block the token is bound to, if any.
    public var clientCIDR: CIDR?
    /// 32 random bytes.
    public var nonce: [UInt8]
    /// The id of the signing key.
    public var keyID: String

    /// Creates claims.
    public init(
        sessionID: String, appID: String, homeDatacentre: String, issuedAtMilliseconds: Int64,
        expiresAtMilliseconds: Int64, clientCIDR: CIDR?, nonce: [UInt8], keyID: String
    ) {
        self.sessionID = sessionID
        self.appID = appID
        self.homeDatacentre = homeDatacentre
        self.issuedAtMilliseconds = issuedAtMilliseconds
        self.expiresAtMilliseconds = expiresAtMilliseconds
        self.clientCIDR = clientCIDR
        self.nonce = nonce
        self.keyID = keyID
    }
}
