import Foundation
public import SkyportRPC
import SkyportConfig
import SkyportStorage

/// Small helpers every service handler uses: identifiers, time, argument checks and store errors.
public enum ServiceSupport {
    /// A new random identifier, `<prefix>_<24 hex digits>` (96 bits).
    public static func newIdentifier(prefix: String) -> String {
        prefix + "_" + Hex.random(byteCount: 12)
    }

    /// Milliseconds since the Unix epoch, now.
    public static func nowUnixMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// INVALID_ARGUMENT naming `field` unless `value` is 1 to `maxLength` UTF-8 bytes with no control,
    /// format (e.g. bidirectional overrides) or line/paragraph separator characters; returns the value.
    /// Bytes, not characters, bound it: one character can carry any number of combining marks.
    @discardableResult
    public static func requireText(_ value: String, field: String, maxLength: Int = 200) throws(RPCError) -> String {
        guard !value.isEmpty else { throw RPCError(code: .invalidArgument, message: "\(field) is required") }
        guard value.utf8.count <= maxLength else {
            throw RPCError(code: .invalidArgument, message: "\(field) is longer than \(maxLength) bytes")
        }
        // Printable ASCII needs no look-up of Unicode categories (every control character of ASCII is
        // below 0x20 or 0x7F; format and separator characters are not ASCII).
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return value }
        guard !value.unicodeScalars.contains(where: { Self.forbidden.contains($0.properties.generalCategory) }) else {
            throw RPCError(code: .invalidArgument, message: "\(field) contains control or formatting characters")
        }
        return value
    }

    private static let forbidden: Set<Unicode.GeneralCategory> = [
        .control, .format, .lineSeparator, .paragraphSeparator,
    ]

    /// INVALID_ARGUMENT naming `field` unless `value` is 1 to 64 of `[a-z0-9_-]` (identifiers, names of
    /// data centres and regions); returns the value.
    @discardableResult
    public static func requireName(_ value: String, field: String) throws(RPCError) -> String {
        guard !value.isEmpty, value.utf8.count <= 64,
            value.utf8.allSatisfy({
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F
            })
        else {
            throw RPCError(
                code: .invalidArgument, message: "\(field) must be 1 to 64 characters of a-z, 0-9, '-' and '_'")
        }
        return value
    }

    /// INVALID_ARGUMENT naming `field` unless `value` is `host:port` or `[v6]:port` as configuration reads
    /// it (`HostAndPort`), with a port of 1 to 65535; returns the value.
    @discardableResult
    public static func requireAddress(_ value: String, field: String) throws(RPCError) -> String {
        try Self.requireText(value, field: field, maxLength: 255)
        guard let address = HostAndPort.parse(configText: value), address.port >= 1 else {
            throw RPCError(code: .invalidArgument, message: "\(field) must be host:port")
        }
        return value
    }

    /// Runs store work, turning `StorageError` into its gRPC status (``StorageError/rpcError``) in one place.
    public static func store<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StorageError {
            throw error.rpcError
        }
    }

    /// The UNIMPLEMENTED error of a declared method whose behaviour arrives in a later issue.
    public static func unimplemented(_ method: MethodDescriptor) -> RPCError {
        RPCError(code: .unimplemented, message: "\(method.path) is not implemented yet")
    }
}
