import SkyportStorage
import Testing

@Suite("Database URLs")
struct StorageConfigurationTests {
    @Test("SQLite file and memory URLs")
    func sqlite() throws {
        #expect(
            try StorageConfiguration(url: "sqlite:///var/lib/skyport/billing.sqlite").backend
                == .sqliteFile(path: "/var/lib/skyport/billing.sqlite"))
        #expect(try StorageConfiguration(url: "sqlite::memory:").backend == .sqliteInMemory)
        #expect(try StorageConfiguration(url: "sqlite::memory:").dialect == .sqlite)
    }

    @Test("PostgreSQL TCP URL with defaults and percent-encoding")
    func postgresTCP() throws {
        let config = try StorageConfiguration(url: "postgresql://bill%40ing:p%3Ass@db.internal/billing")
        #expect(
            config.backend
                == .postgresTCP(
                    host: "db.internal", port: 5432, user: "bill@ing", password: "p:ss", database: "billing",
                    tls: .prefer))
        #expect(config.dialect == .postgres)
        let explicit = try StorageConfiguration(url: "postgres://u:pw@127.0.0.1:6543/db?sslmode=disable&schema=svc_1")
        #expect(
            explicit.backend
                == .postgresTCP(host: "127.0.0.1", port: 6543, user: "u", password: "pw", database: "db", tls: .disable)
        )
        #expect(explicit.postgresSchema == "svc_1")
        let ipv6 = try StorageConfiguration(url: "postgres://u@[::1]:5433/db")
        #expect(
            ipv6.backend
                == .postgresTCP(host: "::1", port: 5433, user: "u", password: nil, database: "db", tls: .prefer))
    }

    @Test("PostgreSQL unix socket URL")
    func postgresSocket() throws {
        let config = try StorageConfiguration(url: "postgres://u:pw@/db?host=/tmp/pg")
        #expect(
            config.backend == .postgresSocket(path: "/tmp/pg/.s.PGSQL.5432", user: "u", password: "pw", database: "db"))
        let port = try StorageConfiguration(url: "postgres://u:pw@:6000/db?host=/tmp/pg")
        #expect(
            port.backend == .postgresSocket(path: "/tmp/pg/.s.PGSQL.6000", user: "u", password: "pw", database: "db"))
    }

    @Test(
        "bad URLs fail with a reason and never show the password",
        arguments: [
            "postgres://admin:Sup3rS3cret@db:notaport/billing",
            "postgres://admin:Sup3rS3cret@db:5432",
            "postgres://admin:Sup3rS3cret@db/billing?sslmode=maybe",
            "postgres://admin:Sup3rS3cret@db/billing?schema=x;drop",
            "postgres://admin:Sup3rS3cret@db/billing?password=Sup3rS3cret&bogus=1",
            "postgres://admin:Sup3rS3cret@/billing",
            "mysql://admin:Sup3rS3cret@db/billing",
            "postgres://admin:Sup3rS3cret%zz@db/billing",
        ])
    func badURL(url: String) {
        #expect {
            _ = try StorageConfiguration(url: url)
        } throws: { error in
            guard case .invalidURL(let shown, let reason) = error as? StorageError else { return false }
            let text = "\(error) \(String(reflecting: error))"
            return !text.contains("Sup3rS3cret") && shown.contains("***") && !reason.isEmpty
        }
    }

    @Test("relative SQLite paths are refused")
    func relativeSQLite() {
        #expect(throws: StorageError.self) { try StorageConfiguration(url: "sqlite://data/x.sqlite") }
    }

    @Test("a valid configuration's description is redacted")
    func description() throws {
        let config = try StorageConfiguration(url: "postgres://u:hunter2@db/x")
        #expect(config.description == "postgres://u:***@db/x")
        #expect(!String(reflecting: config.redactedURL).contains("hunter2"))
    }
}
