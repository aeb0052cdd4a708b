import SkyportInterop
internal import SkyportProto
import SkyportRPC

/// The wire form of a session token: `skt1.` followed by the base64url of a `skyport.token.v1.SignedToken`
/// (the claims exactly as signed, and an Ed25519 signature over `skyport-token-v1` + those bytes).
///
/// Signing the encoded claims, not a re-encoding, means verification never depends on how an encoder
/// orders or writes fields.
public enum SessionToken {
    /// The text prefix, naming the format version.
    public static let prefix = "skt1."
    /// What the signature covers before the claims: a context string, so a signature made for anything
    /// else can never pass as a token's.
    static let signatureContext = Array("skyport-token-v1".utf8)
    /// Tokens longer than this are refused before any decoding (a real one is about 250 characters).
    public static let maximumLength = 2048

    /// Encodes and signs `claims` with `key`; returns the token's text.
    public static func sign(_ claims: SessionTokenClaims, with key: TokenSigningKey) throws -> String {
        Self.prefix + Base64.encodeURL(try Self.signedBytes(claims, with: key))
    }

    /// Encodes and signs `claims` with `key`; returns the serialized `SignedToken` (the text form without
    /// its prefix and base64url).
    public static func signedBytes(_ claims: SessionTokenClaims, with key: TokenSigningKey) throws -> [UInt8] {
        var message = Skyport_Token_V1_TokenClaims()
        message.sessionId = claims.sessionID
        message.appId = claims.appID
        message.homeDatacentre = claims.homeDatacentre
        message.issuedAtUnixMs = claims.issuedAtMilliseconds
        message.expiresAtUnixMs = claims.expiresAtMilliseconds
        message.clientCidr = claims.clientCIDR?.description ?? ""
        message.nonce = claims.nonce
        message.keyId = claims.keyID
        let claimBytes = message.serializedBytes()
        var signed = Skyport_Token_V1_SignedToken()
        signed.claims = claimBytes
        signed.signature = try key.privateKey.signature(for: Self.signatureContext + claimBytes)
        return signed.serializedBytes()
    }

    /// A token split into its claims, the exact signed bytes and the signature, with its form checked
    /// but NOT its signature or time. ``TokenVerifier``
    /// verifies it without parsing it again.
    public struct Parsed: Sendable {
        /// Only for choosing how to verify the token (e.g. which home data centre's published keys to
        /// use); never trust them otherwise: the verifier returns the claims that are.
        public let unverifiedClaims: SessionTokenClaims
        let signed: [UInt8]
        let signature: [UInt8]
    }

    /// Splits `token` into its parts, checking its form only (not the signature, not the time).
    ///
    /// - Throws: ``TokenError/malformed(_:)`` when it is not a well-formed token.
    public static func parse(_ token: String) throws(TokenError) -> Parsed {
        guard token.utf8.count <= Self.maximumLength else {
            throw .malformed("longer than \(Self.maximumLength) bytes")
        }
        guard token.hasPrefix(Self.prefix) else { throw .malformed("it does not start with \(Self.prefix)") }
        let body = String(token.dropFirst(Self.prefix.count))
        // Canonical only: one token has exactly one text (and so one hash), not variants that differ in
        // unused trailing bits.
        guard let bytes = Base64.decodeURL(body), Base64.encodeURL(bytes) == body else {
            throw .malformed("not canonical base64url")
        }
        let signed: Skyport_Token_V1_SignedToken
        let message: Skyport_Token_V1_TokenClaims
        do {
            signed = try Skyport_Token_V1_SignedToken(serializedBytes: bytes)
            message = try Skyport_Token_V1_TokenClaims(serializedBytes: signed.claims)
        } catch {
            throw .malformed("undecodable")
        }
        guard signed.signature.count == 64 else { throw .malformed("the signature is not 64 bytes") }
        guard !message.sessionId.isEmpty, !message.keyId.isEmpty, !message.homeDatacentre.isEmpty,
            message.nonce.count == 32, message.expiresAtUnixMs > message.issuedAtUnixMs
        else { throw .malformed("claims are incomplete") }
        var cidr: CIDR?
        if !message.clientCidr.isEmpty {
            guard let parsed = CIDR(message.clientCidr) else { throw .malformed("bad client CIDR") }
            cidr = parsed
        }
        let claims = SessionTokenClaims(
            sessionID: message.sessionId, appID: message.appId, homeDatacentre: message.homeDatacentre,
            issuedAtMilliseconds: message.issuedAtUnixMs, expiresAtMilliseconds: message.expiresAtUnixMs,
            clientCIDR: cidr, nonce: message.nonce, keyID: message.keyId)
        return Parsed(
            unverifiedClaims: claims, signed: Self.signatureContext + signed.claims, signature: signed.signature)
    }

    /// The canonical text of a token given as its raw bytes (a serialized `SignedToken`): `skt1.` +
    /// base64url. Every token has exactly one text, so its ``hash(_:)`` is the same however it arrived.
    public static func text(fromBytes bytes: [UInt8]) -> String {
        Self.prefix + Base64.encodeURL(bytes)
    }

    /// The SHA-256 of the token text: what stores keep instead of the token.
    public static func hash(_ token: String) -> [UInt8] {
        Digest.sha256(Array(token.utf8))
    }
}
