import Foundation
import Logging
import SkyportStorage

/// A database backend the service suite runs against: in-memory SQLite always, PostgreSQL when
/// `SKYPORT_TEST_POSTGRES_URL` is set (`make test` starts a throwaway server and sets it).
///
/// The same approach as `Tests/StorageTests/TestBackend.swift`: each test gets a fresh database — a
/// private in-memory SQLite database, or a new PostgreSQL schema (the `schema` URL option) that is
/// dropped afterwards — so tests running in parallel never see each other's rows.
struct ServiceBackend: Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        case sqliteMemory
        case postgres(url: String)
    }
    let kind: Kind

    var description: String {
        switch self.kind {
        case .sqliteMemory: "sqlite"
        case .postgres: "postgres"
        }
    }

    /// The PostgreSQL server from `SKYPORT_TEST_POSTGRES_URL`, if any.
    static let postgresURL: String? = {
        let value = ProcessInfo.processInfo.environment["SKYPORT_TEST_POSTGRES_URL"] ?? ""
        return value.isEmpty ? nil : value
    }()

    /// Every backend available here: SQLite always, PostgreSQL when a server was given. Without the
    /// variable the PostgreSQL cases are not generated at all (rather than generated and skipped).
    static let all: [ServiceBackend] =
        [ServiceBackend(kind: .sqliteMemory)] + (postgresURL.map { [ServiceBackend(kind: .postgres(url: $0))] } ?? [])

    /// Keeps tests quiet; errors still show.
    static let logger: Logger = {
        var logger = Logger(label: "skyport.services.tests")
        logger.logLevel = .error
        return logger
    }()

    /// The whole test binary shares one PostgreSQL server (`max_connections=100`) with the storage
    /// suite, and tests run in parallel: a small pool per test keeps the total well under the limit
    /// while still letting concurrent calls race on separate connections.
    static let poolSize = 4

    /// Opens a fresh database with `migrations` applied, runs `body`, then removes the database.
    @discardableResult
    func withDatabase<T: Sendable>(migrations: [Migration], _ body: (Database) async throws -> T) async throws -> T {
        switch self.kind {
        case .sqliteMemory:
            return try await Database.withDatabase(
                StorageConfiguration(url: "sqlite::memory:"), migrations: migrations, logger: Self.logger, body)
        case .postgres(let url):
            let schema = "svc_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            var admin = try StorageConfiguration(url: url)
            admin.maximumConnections = 1
            try await Database.withDatabase(admin, logger: Self.logger) { db in
                try await db.execute("CREATE SCHEMA \(schema)")
            }
            let separator = url.contains("?") ? "&" : "?"
            var configuration = try StorageConfiguration(url: url + separator + "schema=" + schema)
            configuration.maximumConnections = Self.poolSize
            do {
                let value = try await Database.withDatabase(
                    configuration, migrations: migrations, logger: Self.logger, body)
                try await Self.dropSchema(schema, admin: admin)
                return value
            } catch {
                try? await Self.dropSchema(schema, admin: admin)
                throw error
            }
        }
    }

    private static func dropSchema(_ schema: String, admin: StorageConfiguration) async throws {
        try await Database.withDatabase(admin, logger: Self.logger) { db in
            try await db.execute("DROP SCHEMA \(schema) CASCADE")
        }
    }
}
