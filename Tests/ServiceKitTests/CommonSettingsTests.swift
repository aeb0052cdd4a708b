import Foundation
import SkyportConfig
import SkyportService
import Testing

@Suite struct CommonSettingsTests {
    let specification = EchoTestService.specification()

    func settings(_ arguments: [String], environment: [String: String] = [:]) throws -> CommonSettings {
        let configuration = try self.specification.configSchema.parse(arguments: arguments, environment: environment)
        return try CommonSettings(configuration: configuration, specification: self.specification)
    }

    @Test func tlsFilesAreRequiredAndNamedInTheError() throws {
        do {
            _ = try self.settings([])
            Issue.record("started without TLS files")
        } catch let error as ConfigError {
            #expect(error.key == "tls-cert")
            #expect(error.message.contains("SKYPORT_ECHO_TEST_TLS_CERT"))
        }
    }

    @Test func unreadableFilesAndBadLevelsNameTheirKey() throws {
        let fixture = try CertificateFixture()
        defer { fixture.remove() }
        var arguments = fixture.arguments()
        arguments += ["--log-level", "loud"]
        #expect(throws: ConfigError.self) { _ = try self.settings(arguments) }
        do {
            _ = try self.settings(arguments)
        } catch let error as ConfigError {
            #expect(error.key == "log-level")
        }
        var missing = fixture.arguments()
        missing[1] = "/nonexistent/cert.pem"
        do {
            _ = try self.settings(missing)
            Issue.record("accepted a missing certificate file")
        } catch let error as ConfigError {
            #expect(error.key == "tls-cert")
            #expect(error.message.contains("/nonexistent/cert.pem"))
        }
    }

    @Test func defaultsToSQLiteInTheDataDirectoryAndReadsSecretFiles() throws {
        let fixture = try CertificateFixture()
        defer { fixture.remove() }
        let password = fixture.directory + "/password"
        try "s3cret\n".write(toFile: password, atomically: true, encoding: .utf8)
        let defaults = try self.settings(fixture.arguments())
        #expect(defaults.databaseURL == "sqlite://\(fixture.directory)/data/echo-test.sqlite3")
        #expect(defaults.databasePassword == nil)
        #expect(defaults.shutdownGrace == .seconds(5))

        let environment = [
            "SKYPORT_ECHO_TEST_DATABASE_URL": "postgres://echo@db:5432/echo",
            "SKYPORT_ECHO_TEST_DATABASE_PASSWORD_FILE": password,
        ]
        let configured = try self.settings(fixture.arguments(), environment: environment)
        #expect(configured.databaseURL == "postgres://echo@db:5432/echo")
        #expect(configured.databasePassword == "s3cret")
        // The URL is a secret key: the configuration's description never shows it.
        let configuration = try self.specification.configSchema.parse(
            arguments: fixture.arguments(), environment: environment)
        #expect(!"\(configuration)".contains("postgres://echo@db"))
    }

    @Test func helpListsEveryCommonKey() {
        let help = self.specification.configSchema.helpText()
        for flag in [
            "--listen", "--metrics-listen", "--metrics-token-file", "--data-dir", "--database-url",
            "--database-password-file", "--tls-cert", "--tls-key", "--tls-ca", "--log-level", "--shutdown-grace",
        ] {
            #expect(help.contains(flag), "missing \(flag)")
        }
    }
}
