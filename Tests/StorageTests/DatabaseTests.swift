import Foundation
import Logging
import MetricsTestKit
import SkyportRPC
import SkyportStorage
import Synchronization
import Testing

/// The storage suite: every test runs on in-memory SQLite, a SQLite file, and PostgreSQL when
/// `SKYPORT_TEST_POSTGRES_URL` is set (`make test` starts a throwaway server and sets it).
@Suite("Storage on every backend")
struct DatabaseTests {
    static let accounts = Migration(
        version: 1, name: "accounts",
        sql: [
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE, balance BIGINT NOT NULL DEFAULT 0)",
            "CREATE TABLE sessions (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL REFERENCES accounts (id))",
        ])
    static let values = Migration(version: 2, name: "values") { dialect in
        [
            """
            CREATE TABLE vals (id BIGINT PRIMARY KEY, i BIGINT, n BIGINT, d DOUBLE PRECISION, s TEXT,
                b \(dialect.bytesType), f BOOLEAN, t BIGINT, maybe TEXT)
            """
        ]
    }
    static let migrations = [accounts, values]

    @Test(
        "PostgreSQL is part of the run when SKYPORT_TEST_POSTGRES_URL is set",
        .enabled(if: TestBackend.postgresURL != nil))
    func postgresIsReachable() async throws {
        let backend = try #require(TestBackend.all.first { $0.description == "postgres" })
        try await backend.withDatabase { db in
            #expect(db.dialect == .postgres)
            let row = try #require(try await db.query("SELECT current_schema() AS s").first)
            #expect(try row.decode(String.self, "s").hasPrefix("t_"))
        }
    }

    @Test("migrations apply once, in order, and are recorded", arguments: TestBackend.all)
    func migrationsApplyOnce(backend: TestBackend) async throws {
        try await backend.withDatabase(migrations: Self.migrations) { db in
            let before = Int64(Date().timeIntervalSince1970 * 1000)
            let rows = try await db.query(
                "SELECT version, name, checksum, applied_at FROM skyport_migrations ORDER BY version")
            #expect(try rows.map { try $0.decode(Int.self, "version") } == [1, 2])
            #expect(try rows.map { try $0.decode(String.self, "name") } == ["accounts", "values"])
            #expect(
                try rows.map { try $0.decode(String.self, "checksum") }
                    == Self.migrations.map { $0.checksum(for: db.dialect) })
            let appliedAt = try rows[0].decode(Date.self, "applied_at").timeIntervalSince1970 * 1000
            #expect(abs(Int64(appliedAt) - before) < 60_000)

            // Applying the same list again is a no-op: no error (tables exist) and nothing re-recorded.
            try await db.migrate(Self.migrations)
            let again = try await db.query("SELECT version, applied_at FROM skyport_migrations ORDER BY version")
            #expect(
                again
                    == Array(
                        rows.map {
                            Row(columns: ["version", "applied_at"], values: [$0["version"]!, $0["applied_at"]!])
                        }))
        }
    }

    @Test("reopening a database applies only the new migrations", arguments: TestBackend.persistent)
    func reopen(backend: TestBackend) async throws {
        try await backend.withFreshConfiguration { configuration in
            try await Database.withDatabase(configuration, migrations: [Self.accounts], logger: TestBackend.logger) {
                db in
                try await db.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [1, "a@example.com"])
            }
            try await Database.withDatabase(configuration, migrations: Self.migrations, logger: TestBackend.logger) {
                db in
                let versions = try await db.query("SELECT version FROM skyport_migrations ORDER BY version")
                #expect(try versions.map { try $0.decode(Int.self, "version") } == [1, 2])
                let kept = try await db.query("SELECT email FROM accounts")
                #expect(try kept.map { try $0.decode(String.self, "email") } == ["a@example.com"])
            }
        }
    }

    @Test("an edited, unknown or out-of-order migration is refused", arguments: TestBackend.all)
    func refusesBadHistory(backend: TestBackend) async throws {
        try await backend.withDatabase(migrations: [Self.accounts]) { db in
            let edited = Migration(version: 1, name: "accounts", sql: ["CREATE TABLE accounts (id BIGINT PRIMARY KEY)"])
            await #expect {
                try await db.migrate([edited, Self.values])
            } throws: { error in
                guard case .migration(let message) = error as? StorageError else { return false }
                return message.contains("checksum") && message.contains("never edited")
            }
            // Refusal happens before anything is applied: migration 2 is still absent.
            let recorded = try await db.query("SELECT version FROM skyport_migrations")
            #expect(recorded.count == 1)

            await #expect {
                try await db.migrate([])
            } throws: { error in
                guard case .migration(let message) = error as? StorageError else { return false }
                return message.contains("does not know")
            }
            await #expect(throws: StorageError.self) {
                try await db.migrate([Self.values, Self.accounts])  // not increasing
            }
            await #expect(throws: StorageError.self) {
                try await db.migrate([Self.accounts, Migration(version: 1, name: "dup", sql: [])])
            }
        }
    }

    @Test("every bound type round-trips, including NULL, bytes and dates", arguments: TestBackend.all)
    func roundTrip(backend: TestBackend) async throws {
        try await backend.withDatabase(migrations: Self.migrations) { db in
            let bytes: [UInt8] = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]
            let date = Date(timeIntervalSince1970: 1_763_000_000.123)
            let noText: String? = nil
            try await db.execute(
                "INSERT INTO vals (id, i, n, d, s, b, f, t, maybe) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [Int64(1), Int64.max, -42, 3.25, "naïve ✓ 'quoted' ?", bytes, true, date, noText])
            try await db.execute(
                "INSERT INTO vals (id, i, n, d, s, b, f, t, maybe) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [2, Int64.min, Int32.max, -0.5, "", [UInt8](), false, Date(timeIntervalSince1970: 0), Optional("set")])

            let rows = try await db.query("SELECT * FROM vals ORDER BY id")
            #expect(rows.count == 2)
            let first = rows[0], second = rows[1]
            #expect(try first.decode(Int64.self, "i") == Int64.max)
            #expect(try first.decode(Int.self, "n") == -42)
            #expect(try first.decode(Double.self, "d") == 3.25)
            #expect(try first.decode(String.self, "s") == "naïve ✓ 'quoted' ?")
            #expect(try first.decode([UInt8].self, "b") == bytes)
            #expect(try first.decode(Bool.self, "f") == true)
            #expect(try first.decode(Date.self, "t") == Date(timeIntervalSince1970: 1_763_000_000.123))
            #expect(try first.decode(String?.self, "maybe") == nil)
            #expect(first["maybe"] == .null)
            #expect(try second.decode(Int64.self, "i") == Int64.min)
            #expect(try second.decode(Int32.self, "n") == Int32.max)
            #expect(try second.decode(Double.self, "d") == -0.5)
            #expect(try second.decode(String.self, "s") == "")
            #expect(try second.decode([UInt8].self, "b") == [])
            #expect(try second.decode(Bool.self, "f") == false)
            #expect(try second.decode(Date.self, "t") == Date(timeIntervalSince1970: 0))
            #expect(try second.decode(String?.self, "maybe") == "set")

            // Parameters in WHERE, and a '?' literal that is not a placeholder.
            let found = try await db.query("SELECT '?' AS q, id FROM vals WHERE b = ? AND f = ?", [bytes, true])
            #expect(found.count == 1)
            #expect(try found.first?.decode(String.self, "q") == "?")
            #expect(try found.first?.decode(Int.self, "id") == 1)
        }
    }

    @Test("execute reports affected rows; RETURNING works", arguments: TestBackend.all)
    func affectedRowsAndReturning(backend: TestBackend) async throws {
        try await backend.withDatabase(migrations: Self.migrations) { db in
            try await db.write { tx in
                for id in 1...3 {
                    try await tx.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [id, "u\(id)@example.com"])
                }
            }
            #expect(try await db.execute("UPDATE accounts SET balance = balance + ? WHERE id >= ?", [10, 2]) == 2)
            #expect(try await db.execute("DELETE FROM accounts WHERE id = ?", [99]) == 0)
            let returned = try await db.write { tx in
                try await tx.query("UPDATE accounts SET balance = ? WHERE id = ? RETURNING id, balance", [7, 1])
            }
            #expect(try returned.map { try $0.decode(Int.self, "balance") } == [7])
            let total = try await db.query("SELECT SUM(balance) AS total, COUNT(*) AS n FROM accounts")
            #expect(try total.first?.decode(Int.self, "total") == 27)
            #expect(try total.first?.decode(Int.self, "n") == 3)
            let inserted = try await db.write { tx in
                try await tx.execute(
                    "INSERT INTO accounts (id, email) VALUES (?, ?) ON CONFLICT DO NOTHING", [1, "u1@example.com"])
            }
            #expect(inserted == 0)
        }
    }

    @Test("a failing transaction rolls back everything", arguments: TestBackend.all)
    func rollback(backend: TestBackend) async throws {
        struct Abort: Error, Equatable {}
        try await backend.withDatabase(migrations: Self.migrations) { db in
            await #expect(throws: Abort()) {
                try await db.write { tx in
                    try await tx.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [1, "a@example.com"])
                    try await tx.execute("INSERT INTO sessions (id, account_id) VALUES (?, ?)", [1, 1])
                    throw Abort()
                }
            }
            #expect(try await db.query("SELECT id FROM accounts").isEmpty)
            #expect(try await db.query("SELECT id FROM sessions").isEmpty)

            // A failed statement dooms the transaction even if the closure swallows the error.
            try await db.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [1, "a@example.com"])
            await #expect(throws: StorageError.self) {
                try await db.write { tx in
                    try await tx.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [2, "b@example.com"])
                    _ = try? await tx.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [3, "a@example.com"])
                }
            }
            let emails = try await db.query("SELECT email FROM accounts ORDER BY id")
            #expect(try emails.map { try $0.decode(String.self, "email") } == ["a@example.com"])

            // The database is still usable afterwards (no transaction left open).
            try await db.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [4, "d@example.com"])
            #expect(try await db.query("SELECT id FROM accounts").count == 2)
        }
    }

    @Test("a unique violation is ALREADY_EXISTS", arguments: TestBackend.all)
    func uniqueViolation(backend: TestBackend) async throws {
        try await backend.withDatabase(migrations: Self.migrations) { db in
            try await db.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [1, "a@example.com"])
            for (id, email) in [(2, "a@example.com"), (1, "other@example.com")] {  // UNIQUE, then PRIMARY KEY
                do throws(StorageError) {
                    try await db.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [id, email])
                    Issue.record("expected a unique violation")
                } catch {
                    guard case .uniqueViolation(let constraint) = error else {
                        Issue.record("expected uniqueViolation, got \(error)")
                        continue
                    }
                    #expect(constraint != nil)
                    #expect(error.rpcError.code == .alreadyExists)
                }
            }
        }
    }

    @Test("a foreign-key violation is FAILED_PRECONDITION (foreign keys are on)", arguments: TestBackend.all)
    func foreignKeyViolation(backend: TestBackend) async throws {
        try await backend.withDatabase(migrations: Self.migrations) { db in
            if db.dialect == .sqlite {
                let pragma = try await db.query("PRAGMA foreign_keys")
                #expect(pragma.first?.values == [.integer(1)])
            }
            do throws(StorageError) {
                try await db.execute("INSERT INTO sessions (id, account_id) VALUES (?, ?)", [1, 404])
                Issue.record("expected a foreign-key violation")
            } catch {
                #expect(error.description.contains("foreign key"))
                guard case .foreignKeyViolation = error else {
                    Issue.record("expected foreignKeyViolation, got \(error)")
                    return
                }
                #expect(error.rpcError.code == .failedPrecondition)
            }
            let sessions = try await db.query("SELECT id FROM sessions")
            #expect(sessions.isEmpty)
        }
    }

    @Test("decoding errors name the column and the problem", arguments: TestBackend.all)
    func decodingErrors(backend: TestBackend) async throws {
        try await backend.withDatabase(migrations: Self.migrations) { db in
            try await db.execute("INSERT INTO vals (id, s, maybe) VALUES (?, ?, ?)", [1, "text", SQLValue.null])
            let row = try #require(try await db.query("SELECT id, s, maybe FROM vals").first)
            func reason(_ body: () throws -> Void) -> String? {
                do {
                    try body()
                    return nil
                } catch {
                    guard case .decoding(_, let reason) = error as? StorageError else { return "wrong error: \(error)" }
                    return reason
                }
            }
            #expect(reason { _ = try row.decode(Int.self, "missing") }?.contains("no such column") == true)
            #expect(reason { _ = try row.decode(String.self, "maybe") }?.contains("NULL") == true)
            #expect(reason { _ = try row.decode(Int.self, "s") }?.contains("cannot decode text") == true)
            #expect(reason { _ = try row.decode(String.self, "id") }?.contains("cannot decode integer") == true)
            #expect(reason { _ = try row.decode([UInt8].self, "s") } != nil)
            #expect(try row.decode(Int.self, "ID") == 1)  // case-insensitive fallback
            #expect(StorageError.decoding(column: "s", reason: "x").rpcError.code == .internal)
        }
    }

    @Test("a SQLite file database uses WAL", arguments: TestBackend.all.filter { $0.description == "sqlite-file" })
    func walMode(backend: TestBackend) async throws {
        try await backend.withDatabase { db in
            let mode = try #require(try await db.query("PRAGMA journal_mode").first)
            #expect(mode.values == [.text("wal")])
        }
    }

    @Test(
        "a SQLite file locked by another connection waits for the busy timeout, then is UNAVAILABLE",
        arguments: TestBackend.all.filter { $0.description == "sqlite-file" })
    func busyTimeout(backend: TestBackend) async throws {
        try await backend.withFreshConfiguration { configuration in
            var impatient = configuration
            impatient.busyTimeout = .milliseconds(200)
            try await Database.withDatabase(configuration, migrations: Self.migrations, logger: TestBackend.logger) {
                holder in
                try await Database.withDatabase(impatient, logger: TestBackend.logger) { other in
                    try await holder.write { tx in
                        try await tx.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [1, "a@example.com"])
                        // Another connection (as another process would) cannot write while this one holds the lock.
                        let started = ContinuousClock.now
                        do throws(StorageError) {
                            try await other.execute(
                                "INSERT INTO accounts (id, email) VALUES (?, ?)", [2, "b@example.com"])
                            Issue.record("expected the write to time out")
                        } catch {
                            guard case .unavailable = error else {
                                Issue.record("expected unavailable, got \(error)")
                                return
                            }
                            #expect(error.rpcError.code == .unavailable)
                            #expect(ContinuousClock.now - started >= .milliseconds(150))
                        }
                    }
                    // Once the lock is released, the other connection writes normally.
                    try await other.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [2, "b@example.com"])
                }
                let count = try await holder.query("SELECT id FROM accounts").count
                #expect(count == 2)
            }
        }
    }

    @Test("a caller waiting on an unreachable PostgreSQL server can give up: CANCELLED", .timeLimit(.minutes(1)))
    func postgresUnreachable() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("no-pg-\(UUID().uuidString)")
        var configuration = try StorageConfiguration(url: "postgres://u:pw@/db?host=\(directory.path)")
        configuration.connectTimeout = .seconds(1)
        try await Database.withDatabase(configuration, logger: TestBackend.logger) { db in
            // As an RPC deadline would: cancel the waiting call after a second.
            let call = Task { try await db.query("SELECT 1 AS one") }
            try await Task.sleep(for: .seconds(1))
            call.cancel()
            let result = await call.result
            guard case .failure(let error) = result else {
                Issue.record("expected the query to fail")
                return
            }
            #expect(error as? StorageError == .cancelled)
            #expect((error as? StorageError)?.rpcError.code == .cancelled)
        }
    }

    @Test("a SQLite file is checkpointed in the background, never by a commit", .timeLimit(.minutes(1)))
    func checkpointsInTheBackground() async throws {
        try await Self.withSQLiteFile { db, path in
            // No connection checkpoints on commit.
            let setting = try await db.write { tx in try await tx.queryFirst("PRAGMA wal_autocheckpoint") }
            #expect(try setting?.decode(Int.self, "wal_autocheckpoint") == 0)
            // About 2 MB, table and index (500 pages: below SQLite's own 1,000-page threshold), lands in the
            // log first...
            let padding = String(repeating: "x", count: 500)
            _ = try await db.write { tx in
                for id in 0..<2_000 {
                    try await tx.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [id, "\(id)\(padding)"])
                }
            }
            #expect(Self.size(path + "-wal") > 1_500_000)
            // ...and the background checkpoint copies it into the database file, with no further call.
            let deadline = ContinuousClock.now + .seconds(10)
            while Self.size(path) < 1_500_000, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(Self.size(path) > 1_500_000)
            // Idle, the loop looks less often (up to once a second), but a write after a quiet spell is
            // still copied without a further call.
            try await Task.sleep(for: .milliseconds(2_500))
            _ = try await db.write { tx in
                for id in 2_000..<4_000 {
                    try await tx.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [id, "\(id)\(padding)"])
                }
            }
            let later = ContinuousClock.now + .seconds(10)
            while Self.size(path) < 3_000_000, ContinuousClock.now < later {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(Self.size(path) > 3_000_000)
        }
    }

    @Test("under steady writes the write-ahead log still starts over: it stays bounded", .timeLimit(.minutes(1)))
    func theLogStaysBoundedUnderSteadyWrites() async throws {
        try await Self.withSQLiteFile { db, path in
            // 4,000 back-to-back transactions of several pages each (the row, its index entry, the b-tree
            // pages above them): ~100 MB of log unless it starts over. The background checkpoint always
            // races a commit, so only the writer's own finishing copy lets it start over; it then stays at a
            // few MB (more on a busy machine, whose checkpoint thread runs late).
            let padding = String(repeating: "x", count: 2_000)
            var largest = 0
            for id in 0..<4_000 {
                _ = try await db.write { tx in
                    try await tx.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [id, "\(id)\(padding)"])
                }
                if id % 250 == 0 { largest = max(largest, Self.size(path + "-wal")) }
            }
            #expect(largest < 32 * 1_048_576, "the log reached \(largest) bytes")
        }
    }

    /// Opens a fresh SQLite file with the accounts table, runs `body` with it and the file's path, closes
    /// it, and checks that closing checkpointed the rest and removed the log.
    static func withSQLiteFile(_ body: (Database, String) async throws -> Void) async throws {
        try await TestBackend(kind: .sqliteFile).withFreshConfiguration { configuration in
            guard case .sqliteFile(let path) = configuration.backend else {
                Issue.record("not a SQLite file: \(configuration)")
                return
            }
            try await Database.withDatabase(configuration, migrations: [Self.accounts], logger: TestBackend.logger) {
                db in try await body(db, path)
            }
            #expect(Self.size(path + "-wal") == 0)
        }
    }

    /// The size of `file` in bytes; 0 when it does not exist.
    static func size(_ file: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.intValue ?? 0
    }

    @Test("concurrent writes from many tasks all land", arguments: TestBackend.all)
    func concurrentWrites(backend: TestBackend) async throws {
        try await backend.withDatabase(migrations: Self.migrations) { db in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<16 {
                    group.addTask {
                        for item in 0..<5 {
                            let id = task * 100 + item
                            try await db.write { tx in
                                try await tx.execute(
                                    "INSERT INTO accounts (id, email) VALUES (?, ?)", [id, "\(id)@example.com"])
                                try await tx.execute("UPDATE accounts SET balance = balance + 1 WHERE id = ?", [id])
                            }
                            _ = try await db.query("SELECT COUNT(*) AS n FROM accounts")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let totals = try #require(try await db.query("SELECT COUNT(*) AS n, SUM(balance) AS b FROM accounts").first)
            #expect(try totals.decode(Int.self, "n") == 80)
            #expect(try totals.decode(Int.self, "b") == 80)
        }
    }

    /// The SQLite backends (group commit is theirs; PostgreSQL commits each transaction itself).
    static let sqlite = TestBackend.all.filter { $0.description.hasPrefix("sqlite") }

    @Test(
        "write transactions that arrive together share commits; each returns once committed", .timeLimit(.minutes(1)),
        arguments: sqlite)
    func groupCommit(backend: TestBackend) async throws {
        let metrics = TestMetrics()
        let writers = 64
        let commits = try await backend.withDatabase(migrations: Self.migrations, metrics: metrics) { db in
            let before = try metrics.expectCounter("skyport_store_commits_total").totalValue
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in 0..<writers {
                    group.addTask {
                        if id.isMultiple(of: 2) {
                            _ = try await db.write { tx in
                                try await tx.execute(
                                    "INSERT INTO accounts (id, email) VALUES (?, ?)", [id, "\(id)@example.com"])
                            }
                        } else {
                            try await db.execute(
                                "INSERT INTO accounts (id, email) VALUES (?, ?)", [id, "\(id)@example.com"])
                        }
                        // A file's reads use their own connection, which sees only committed rows.
                        #expect(try await db.query("SELECT id FROM accounts WHERE id = ?", [id]).count == 1)
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await db.query("SELECT id FROM accounts").count == writers)
            return try metrics.expectCounter("skyport_store_commits_total").totalValue - before
        }
        #expect(commits >= 1)
        #expect(commits < Int64(writers), "\(commits) commits for \(writers) write transactions")
    }

    @Test(
        "a failing member of a shared commit undoes only its own changes", .timeLimit(.minutes(1)), arguments: sqlite)
    func groupCommitMemberFails(backend: TestBackend) async throws {
        struct Abort: Error {}
        let metrics = TestMetrics()
        let writers = 48
        let commits = try await backend.withDatabase(migrations: Self.migrations, metrics: metrics) { db in
            try await db.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [1000, "taken@example.com"])
            let before = try metrics.expectCounter("skyport_store_commits_total").totalValue
            await withTaskGroup(of: Void.self) { group in
                for id in 0..<writers {
                    group.addTask {
                        _ = try? await db.write { tx in
                            try await tx.execute(
                                "INSERT INTO accounts (id, email) VALUES (?, ?)", [id, "\(id)@example.com"])
                            try await tx.execute("INSERT INTO sessions (id, account_id) VALUES (?, ?)", [id, id])
                            switch id % 3 {
                            case 1: throw Abort()
                            case 2:  // a failed statement, caught: the member still rolls back
                                _ = try? await tx.execute(
                                    "INSERT INTO accounts (id, email) VALUES (?, ?)", [id + 500, "taken@example.com"])
                            default: break
                            }
                        }
                    }
                }
            }
            let kept = try await db.query("SELECT id FROM accounts WHERE id < 1000 ORDER BY id").map {
                try $0.decode(Int.self, "id")
            }
            #expect(kept == Array(stride(from: 0, to: writers, by: 3)))
            #expect(try await db.query("SELECT id FROM sessions").count == kept.count)
            let commits = try metrics.expectCounter("skyport_store_commits_total").totalValue - before
            // A write that fails alone is rolled back: no commit.
            _ = try? await db.write { tx in
                try await tx.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [2000, "alone@example.com"])
                throw Abort()
            }
            #expect(try metrics.expectCounter("skyport_store_commits_total").totalValue - before == commits)
            #expect(try await db.query("SELECT id FROM accounts WHERE id = 2000").isEmpty)
            return commits
        }
        #expect(commits < Int64(writers), "\(commits) commits for \(writers) write transactions")
    }

    @Test(
        "when SQLite rolls back a shared transaction, exactly the writes told they succeeded are stored",
        .timeLimit(.minutes(1)), arguments: sqlite)
    func groupCommitRolledBackWhole(backend: TestBackend) async throws {
        try await backend.withDatabase(migrations: Self.migrations) { db in
            // RAISE(ROLLBACK) ends the whole transaction, the other members' changes included.
            try await db.execute(
                """
                CREATE TRIGGER boom BEFORE INSERT ON accounts WHEN NEW.email = 'boom'
                BEGIN SELECT RAISE(ROLLBACK, 'boom'); END
                """)
            let succeeded = await withTaskGroup(of: Int?.self) { group in
                for id in 0..<64 {
                    group.addTask {
                        let email = id % 8 == 3 || id % 8 == 6 ? "boom" : "\(id)@example.com"
                        let sql = "INSERT INTO accounts (id, email) VALUES (?, ?)"
                        do {
                            if id.isMultiple(of: 2) {
                                _ = try await db.write { tx in try await tx.execute(sql, [id, email]) }
                            } else {
                                try await db.execute(sql, [id, email])
                            }
                            return id
                        } catch {
                            return nil
                        }
                    }
                }
                var ids: Set<Int> = []
                for await id in group { if let id { ids.insert(id) } }
                return ids
            }
            let stored = Set(try await db.query("SELECT id FROM accounts").map { try $0.decode(Int.self, "id") })
            #expect(stored == succeeded)
            #expect(stored.allSatisfy { $0 % 8 != 3 && $0 % 8 != 6 })
            #expect(!stored.isEmpty)
            // Nothing is left open: a write afterwards commits.
            try await db.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [1000, "after@example.com"])
            #expect(try await db.query("SELECT id FROM accounts WHERE id = 1000").count == 1)
        }
    }

    @Test(
        "misuse is an error, not a hang: nested transactions, placeholder counts, escaped transactions, writes in reads",
        arguments: TestBackend.all)
    func misuse(backend: TestBackend) async throws {
        try await backend.withDatabase(migrations: Self.migrations) { db in
            await #expect(throws: StorageError.self) {
                try await db.write { _ in try await db.execute("DELETE FROM accounts") }
            }
            await #expect(throws: StorageError.self) {
                try await db.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [1])
            }
            let escaped = try await db.write { tx in tx }
            await #expect(throws: StorageError.self) { try await escaped.execute("DELETE FROM accounts") }
            await #expect(throws: StorageError.self) {
                try await db.read { tx in
                    try await tx.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [1, "x"])
                }
            }
            #expect(try await db.query("SELECT id FROM accounts").isEmpty)
        }
    }

    @Test("statements are logged without their argument values", arguments: TestBackend.all)
    func logsNoValues(backend: TestBackend) async throws {
        let lines = LogLines()
        var logger = Logger(label: "capture") { _ in CaptureHandler(lines: lines) }
        logger.logLevel = .trace
        try await backend.withFreshConfiguration { configuration in
            _ = try await Database.withDatabase(configuration, migrations: Self.migrations, logger: logger) { db in
                try await db.execute("INSERT INTO accounts (id, email) VALUES (?, ?)", [1, "SECRET-VALUE@example.com"])
            }
        }
        let all = lines.text
        #expect(all.contains("INSERT INTO accounts (id, email) VALUES (?, ?)"))
        #expect(!all.contains("SECRET-VALUE"))
        if case .postgres(let url) = backend.kind,
            case .postgresSocket(_, _, let password?, _) = try StorageConfiguration(url: url).backend
        {
            #expect(!all.contains(password))
            #expect(all.contains("***"))  // the redacted URL is in the metadata
        }
    }
}

/// Formatted log lines (message and metadata) captured for assertions.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { self.lines.withLock { $0.append(line) } }
    var text: String { self.lines.withLock { $0.joined(separator: "\n") } }
}

/// A log handler that records into ``LogLines``.
struct CaptureHandler: LogHandler {
    let lines: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        self.lines.append("\(event.message) \(merged)")
    }
}
