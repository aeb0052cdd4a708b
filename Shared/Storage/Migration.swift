internal import SkyportInterop
internal import SkyportRPC

/// One step of a service's schema history. Migrations are never edited after release: fix mistakes
/// with a new migration.
///
/// Each statement is one SQL command in the portable subset (``SQLDialect``). For the few spellings
/// that differ (bytes columns, generated keys), build the statements from the dialect:
///
/// ```swift
/// Migration(version: 2, name: "add avatars") { dialect in
///     ["CREATE TABLE avatars (account_id BIGINT PRIMARY KEY REFERENCES accounts (id), "
///         + "image \(dialect.bytesType) NOT NULL)"]
/// }
/// ```
public struct Migration: Sendable {
    /// The position in the history: positive and strictly increasing within a service.
    public let version: Int
    /// A short human-readable name, recorded with the version.
    public let name: String
    private let statements: @Sendable (SQLDialect) -> [String]

    /// A migration whose statements are the same on both backends.
    public init(version: Int, name: String, sql: [String]) {
        self.init(version: version, name: name) { _ in sql }
    }

    /// A migration whose statements depend on the backend's dialect.
    public init(version: Int, name: String, sql: @escaping @Sendable (SQLDialect) -> [String]) {
        self.version = version
        self.name = name
        self.statements = sql
    }

    /// The statements for `dialect`.
    public func sql(for dialect: SQLDialect) -> [String] {
        self.statements(dialect)
    }

    /// SHA-256 (hex) over the name and the statements for `dialect`, each length-prefixed so that
    /// moving text between statements changes it too.
    public func checksum(for dialect: SQLDialect) -> String {
        var bytes: [UInt8] = []
        for part in [self.name] + self.sql(for: dialect) {
            let utf8 = Array(part.utf8)
            bytes += Array("\(utf8.count):".utf8) + utf8
        }
        return Hex.encode(Digest.sha256(bytes))
    }
}
