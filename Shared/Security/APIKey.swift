import SkyportInterop
internal import SkyportRPC

/// A developer API key: `sk_<key id>_<secret>`, where the key id (16 hex digits, 64 random bits) finds
/// the stored record and the secret is 256 random bits in unpadded base64url.
///
/// The full text is shown to its owner once, by `reveal()`, and never stored: the store keeps only
/// `APIKeyHasher.hash`. `description`, `debugDescription` and the mirror redact the secret, so
/// interpolating or logging a key prints only its id.
public struct APIKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The text before the first `_`, `sk`.
    public static let prefix = "sk"
    static let keyIDLength = 16
    static let secretLength = 43

    /// The public part that identifies the key for look-up; safe to log.
    public let keyID: String
    private let secret: String

    private init(keyID: String, secret: String) {
        self.keyID = keyID
        self.secret = secret
    }

    /// A new random key.
    ///
    /// - Throws: `TLSError` when OpenSSL's random generator fails.
    public static func generate() throws -> APIKey {
        let id = try SecureRandom.bytes(count: 8)
        let secret = try SecureRandom.bytes(count: 32)
        return APIKey(keyID: Hex.encode(id), secret: Base64.encodeURL(secret))
    }

    /// Whether `text` has the shape of a key id: 16 lower-case hex digits.
    public static func isKeyID(_ text: some StringProtocol) -> Bool {
        text.utf8.count == Self.keyIDLength && text.utf8.allSatisfy(Self.isLowerHex)
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66)
    }

    /// Parses the text a caller presented; `nil` unless it has exactly the shape `generate` produces.
    public init?(parsing text: some StringProtocol) {
        let bytes = Array(text.utf8)
        let head = Self.prefix.utf8.count + 1
        guard bytes.count == head + Self.keyIDLength + 1 + Self.secretLength,
            bytes[..<head].elementsEqual(Array((Self.prefix + "_").utf8)),
            bytes[head + Self.keyIDLength] == UInt8(ascii: "_")
        else { return nil }
        let id = bytes[head..<(head + Self.keyIDLength)]
        let secret = bytes[(head + Self.keyIDLength + 1)...]
        guard id.allSatisfy(Self.isLowerHex),
            secret.allSatisfy(Self.isBase64URL)
        else { return nil }
        self.init(keyID: String(decoding: id, as: UTF8.self), secret: String(decoding: secret, as: UTF8.self))
    }

    /// The whole key, to show its owner once at creation. Never log or store it.
    public func reveal() -> String {
        "\(Self.prefix)_\(self.keyID)_\(self.secret)"
    }

    /// `sk_<key id>_<redacted>`.
    public var description: String { "\(Self.prefix)_\(self.keyID)_<redacted>" }
    /// The same as `description`.
    public var debugDescription: String { self.description }
    /// Only the key id, so `dump` and reflection cannot reveal the secret.
    public var customMirror: Mirror { Mirror(self, children: ["keyID": self.keyID, "secret": "<redacted>"]) }

    private static func isBase64URL(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
    }
}
