/// Custom metadata of a call: ordered key/value pairs sent as HTTP/2 headers or trailers.
///
/// Keys are lower-case ASCII. Keys ending in `-bin` carry binary values, which travel base64-encoded;
/// all other values are printable ASCII strings. Duplicate keys are allowed and keep their order.
public struct Metadata: Sendable, Hashable, ExpressibleByDictionaryLiteral, RandomAccessCollection {
    /// A metadata value: text for ordinary keys, bytes for `-bin` keys.
    public enum Value: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
        /// A printable ASCII value.
        case string(String)
        /// A binary value; only valid under a key ending in `-bin`.
        case binary([UInt8])

        /// A string value from a literal.
        public init(stringLiteral value: String) {
            self = .string(value)
        }

        /// The text, or `nil` for a binary value.
        public var stringValue: String? {
            if case .string(let s) = self { return s }
            return nil
        }

        /// The bytes: a binary value's bytes, or a string value's UTF-8.
        public var bytes: [UInt8] {
            switch self {
            case .string(let s): Array(s.utf8)
            case .binary(let b): b
            }
        }

        /// The string, or the base64 of the bytes.
        public var description: String {
            switch self {
            case .string(let s): s
            case .binary(let b): Base64.encode(b)
            }
        }
    }

    /// One key/value pair.
    public struct Entry: Sendable, Hashable {
        /// The lower-cased key.
        public var key: String
        /// The value.
        public var value: Value

        /// Creates an entry; the key is lower-cased.
        public init(key: String, value: Value) {
            self.key = Metadata.lowercased(key)
            self.value = value
        }
    }

    private var entries: [Entry]

    /// Empty metadata.
    public init() {
        self.entries = []
    }

    /// Creates metadata from pairs; keys are lower-cased.
    public init(dictionaryLiteral elements: (String, Value)...) {
        self.entries = elements.map { Entry(key: $0.0, value: $0.1) }
    }

    /// The index of the first entry.
    public var startIndex: Int { self.entries.startIndex }
    /// One past the index of the last entry.
    public var endIndex: Int { self.entries.endIndex }
    /// The entry at `position`.
    public subscript(position: Int) -> Entry { self.entries[position] }

    /// Appends a string value under `key` (lower-cased).
    public mutating func add(_ key: String, _ value: String) {
        self.entries.append(Entry(key: key, value: .string(value)))
    }

    /// Appends a binary value under `key` (lower-cased), which should end in `-bin`.
    public mutating func add(_ key: String, binary value: [UInt8]) {
        self.entries.append(Entry(key: key, value: .binary(value)))
    }

    /// Appends every entry of `other`.
    public mutating func add(contentsOf other: Metadata) {
        self.entries.append(contentsOf: other.entries)
    }

    /// Removes every value under `key`.
    public mutating func removeAll(_ key: String) {
        let key = Metadata.lowercased(key)
        self.entries.removeAll { $0.key == key }
    }

    /// Every value stored under `key`, in order.
    public subscript(values key: String) -> [Value] {
        let key = Metadata.lowercased(key)
        return self.entries.compactMap { $0.key == key ? $0.value : nil }
    }

    /// The first string value under `key`.
    public subscript(key: String) -> String? {
        self[values: key].first?.stringValue
    }

    /// The first binary value under `key`.
    public subscript(binary key: String) -> [UInt8]? {
        guard let value = self[values: key].first else { return nil }
        if case .binary(let bytes) = value { return bytes }
        return nil
    }
}

extension Metadata {
    /// `key` lower-cased; keys received over HTTP/2 are already lower-case, so this rarely allocates.
    static func lowercased(_ key: String) -> String {
        key.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) ? key.lowercased() : key
    }

    /// Whether `key` is a binary key (ends in `-bin`).
    public static func isBinaryKey(_ key: some StringProtocol) -> Bool {
        key.hasSuffix("-bin")
    }

    /// Whether a key is one the transport owns and custom metadata must not carry: pseudo-headers,
    /// `grpc-*` (apart from `grpc-previous-rpc-attempts`-style application keys, which gRPC also reserves),
    /// `content-type`, `te`, and connection-level headers that HTTP/2 forbids.
    public static func isReservedKey(_ key: some StringProtocol) -> Bool {
        if key.hasPrefix(":") || key.hasPrefix("grpc-") { return true }
        switch key {
        case "content-type", "te", "user-agent", "connection", "keep-alive", "proxy-connection",
            "transfer-encoding", "upgrade", "host":
            return true
        default:
            return false
        }
    }

    /// Whether `key` is a legal metadata key: non-empty, `[0-9a-z_.-]` only.
    public static func isValidKey(_ key: some StringProtocol) -> Bool {
        guard !key.isEmpty else { return false }
        return key.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
        }
    }

    /// Whether `value` is a legal ASCII metadata value: printable ASCII (0x20–0x7E).
    public static func isValidASCIIValue(_ value: some StringProtocol) -> Bool {
        value.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }
    }

    /// Encodes one entry as an HTTP/2 header value: base64 (unpadded) for binary keys, the string otherwise.
    ///
    /// - Returns: `nil` when the key is reserved or invalid, or the value is not legal for the key.
    public static func wireValue(for entry: Entry) -> String? {
        guard self.isValidKey(entry.key), !self.isReservedKey(entry.key) else { return nil }
        if self.isBinaryKey(entry.key) {
            return Base64.encode(entry.value.bytes, padding: false)
        }
        guard case .string(let s) = entry.value, self.isValidASCIIValue(s) else { return nil }
        return s
    }

    /// Decodes a received header into an entry: base64-decodes `-bin` values (padded or not).
    ///
    /// - Returns: `nil` for reserved keys and for values that fail to decode.
    public static func entry(fromWireKey key: String, value: String) -> Entry? {
        guard !self.isReservedKey(key) else { return nil }
        if self.isBinaryKey(key) {
            guard let bytes = Base64.decode(value) else { return nil }
            return Entry(key: key, value: .binary(bytes))
        }
        return Entry(key: key, value: .string(value))
    }
}
