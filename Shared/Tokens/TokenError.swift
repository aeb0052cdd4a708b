public import SkyportRPC

/// Why a session token was refused. Messages never contain the token.
public enum TokenError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Not a token: wrong prefix, bad base64url, too long, undecodable claims or missing fields.
    case malformed(String)
    /// Signed by a key this verifier does not know (even after refreshing the published keys).
    case unknownKey(String)
    /// The signature does not match the claims: forged or altered.
    case badSignature
    /// Past its expiry (beyond the clock-skew allowance).
    case expired(atMilliseconds: Int64)
    /// Issued in the future (beyond the clock-skew allowance).
    case notYetValid
    /// Bound to client addresses that do not include the redeeming client.
    case wrongClient
    /// The published keys could not be fetched.
    case keysUnavailable(String)

    /// A one-line description.
    public var description: String {
        switch self {
        case .malformed(let reason): "malformed token: \(reason)"
        case .unknownKey(let keyID): "token signed by unknown key \(keyID.prefix(64))"
        case .badSignature: "token signature is invalid"
        case .expired(let time): "token expired at \(time) ms since the epoch"
        case .notYetValid: "token is not valid yet"
        case .wrongClient: "token is bound to other client addresses"
        case .keysUnavailable(let reason): "token keys unavailable: \(reason)"
        }
    }

    /// The gRPC status a redemption answers with: INVALID_ARGUMENT for something that is not a token,
    /// UNAUTHENTICATED for a token that does not authenticate (forged, unknown key, expired, another
    /// client's), UNAVAILABLE when the keys cannot be fetched.
    public var rpcError: RPCError {
        switch self {
        case .malformed: RPCError(code: .invalidArgument, message: self.description)
        case .keysUnavailable: RPCError(code: .unavailable, message: self.description)
        default: RPCError(code: .unauthenticated, message: self.description)
        }
    }
}
