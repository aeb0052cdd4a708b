import Foundation
import Logging
import Metrics
import SkyportStorage

/// A backend the storage suite runs against.
struct TestBackend: Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        case sqliteMemory
        case sqliteFile
        case postgres(url: String)
    }
    let kind: Kind

    var description: String {
        switch self.kind {
        case .sqliteMemory: "sqlite-memory"
        case .sqliteFile: "sqlite-file"
        case .postgres: "postgres"
        }
    }

    /// The PostgreSQL server from `SKYPORT_TEST_POSTGRES_URL` (set by `make test`), if any.
    static let postgresURL: String? = {
        let value = ProcessInfo.processInfo.environment["SKYPORT_TEST_POSTGRES_URL"] ?? ""
        return value.isEmpty ? nil : value
    }()

    /// Every backend available here: SQLite always, PostgreSQL when a server was given.
    static let all: [TestBackend] =
        [TestBackend(kind: .sqliteMemory), TestBackend(kind: .sqliteFile)]
        + (postgresURL.map { [TestBackend(kind: .postgres(url: $0))] } ?? [])

    /// The backends whose data outlives a `Database` (for reopening).
    static let persistent: [TestBackend] = all.filter {
        if case .sqliteMemory = $0.kind { return false }
        return true
    }

    /// A logger that keeps tests quiet; errors still show.
    static let logger: Logger = {
        var logger = Logger(label: "skyport.storage.tests")
        logger.logLevel = .error
        return logger
    }()

    /// Calls `body` with the configuration of a fresh, empty database on this backend, then removes it:
    /// a temporary directory for a SQLite file, a new schema for PostgreSQL.
    @discardableResult
    func withFreshConfiguration<T: Sendable>(_ body: (StorageConfiguration) async throws -> T) async throws -> T {
        switch self.kind {
        case .sqliteMemory:
            return try await body(StorageConfiguration(url: "sqlite::memory:"))
        case .sqliteFile:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "skyport-storage-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            return try await body(StorageConfiguration(url: "sqlite://\(directory.path)/test.sqlite"))
        case .postgres(let url):
            let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            let admin = try StorageConfiguration(url: url)
            try await Database.withDatabase(admin, logger: Self.logger) { db in
                try await db.execute("CREATE SCHEMA \(schema)")
            }
            let separator = url.contains("?") ? "&" : "?"
            do {
                let value = try await body(StorageConfiguration(url: url + separator + "schema=" + schema))
                try await Self.dropSchema(schema, admin: admin)
                return value
            } catch {
                try? await Self.dropSchema(schema, admin: admin)
                throw error
            }
        }
    }

    /// Opens a fresh database with `migrations` applied, runs `body`, and cleans up.
    @discardableResult
    func withDatabase<T: Sendable>(
        migrations: [Migration] = [], metrics: (any MetricsFactory)? = nil, _ body: (Database) async throws -> T
    ) async throws -> T {
        try await self.withFreshConfiguration { configuration in
            try await Database.withDatabase(
                configuration, migrations: migrations, logger: Self.logger, metrics: metrics, body)
        }
    }

    private static func dropSchema(_ schema: String, admin: StorageConfiguration) async throws {
        try await Database.withDatabase(admin, logger: Self.logger) { db in
            try await db.execute("DROP SCHEMA \(schema) CASCADE")
        }
    }
}
