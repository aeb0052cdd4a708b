@testable import HostManagerService
import SkyportStorage
import Testing

/// Placements are kept after they end, so host management's queries over them must stay on indexes of
/// what is live (or on the placement time), not read the whole table: SQLite's plans, which without
/// `ANALYZE` statistics do not depend on the table's size.
@Suite struct PlacementQueryPlanTests {
    /// SQLite's `EXPLAIN QUERY PLAN` lines for `sql`.
    static func plan(_ sql: String, _ arguments: [any SQLBindable], in database: Database) async throws -> [String] {
        try await database.query("EXPLAIN QUERY PLAN " + sql, arguments).map { try $0.decode(String.self, "detail") }
    }

    @Test(
        "the capacity summary's groups, an instance's end and the session list use their indexes",
        arguments: [
            (PlacementStore.Queries.activeGroups, [1000] as [any SQLBindable], "placements_live_groups"),
            (PlacementStore.Queries.livePlacementsOfInstance, ["inst-1"], "placements_live_by_instance"),
            (PlacementStore.Queries.recentPlacements, [1000], "placements_by_time"),
        ])
    func queriesUseTheirIndexes(sql: String, arguments: [any SQLBindable], index: String) async throws {
        try await ServiceBackend(kind: .sqliteMemory).withDatabase(migrations: HostManagerMigrations.all) { db in
            let plan = try await Self.plan(sql, arguments, in: db)
            #expect(plan.contains { $0.contains("USING") && $0.contains(index) }, "plan: \(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN placements") && !$0.contains(index) }, "plan: \(plan)")
        }
    }
}
