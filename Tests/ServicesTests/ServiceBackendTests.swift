import BillingService
import SkyportStorage
import Testing

@Suite("Service test backends")
struct ServiceBackendTests {
    @Test(
        "PostgreSQL is part of the run when SKYPORT_TEST_POSTGRES_URL is set",
        .enabled(if: ServiceBackend.postgresURL != nil))
    func postgresIsPartOfTheRun() async throws {
        #expect(ServiceBackend.all.map(\.description) == ["sqlite", "postgres"])
        let backend = try #require(ServiceBackend.all.last)
        let schema = try await backend.withDatabase(migrations: BillingStore.migrations) { db in
            #expect(db.dialect == .postgres)
            let row = try #require(try await db.query("SELECT current_schema() AS s").first)
            let schema = try row.decode(String.self, "s")
            #expect(schema.hasPrefix("svc_"))
            return schema
        }
        // The test's schema is gone afterwards.
        let admin = try StorageConfiguration(url: try #require(ServiceBackend.postgresURL))
        let left = try await Database.withDatabase(admin, logger: ServiceBackend.logger) { db in
            try await db.query("SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?", [schema])
        }
        #expect(left.isEmpty)
    }

    @Test("each test gets an empty database of its own", arguments: ServiceBackend.all)
    func isolation(backend: ServiceBackend) async throws {
        try await backend.withDatabase(migrations: BillingStore.migrations) { outer in
            try await outer.execute(
                """
                INSERT INTO usage_events (event_id, idempotency_key, developer_id, app_id, kind, quantity,
                    occurred_at_ms, ingested_at_ms) VALUES ('use_1', 'k', 'dev_a', 'app', 1, 1, 1, 1)
                """)
            try await backend.withDatabase(migrations: BillingStore.migrations) { inner in
                let rows = try await inner.query("SELECT event_id FROM usage_events")
                #expect(rows.isEmpty)
            }
            #expect(try await outer.query("SELECT event_id FROM usage_events").count == 1)
        }
    }
}
