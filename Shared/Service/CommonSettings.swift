import Foundation
public import Logging
public import SkyportConfig

/// The configuration keys every Skyport service has, and their values after validation.
///
/// | key | default | meaning |
/// |---|---|---|
/// | `listen` | `127.0.0.1:<service port>` | gRPC address (TLS; client certificates verified when presented) |
/// | `metrics-listen` | `127.0.0.1:<metrics port>` | Prometheus endpoint (`GET /metrics`) |
/// | `metrics-token-file` | none | a file holding a bearer token `/metrics` then requires |
/// | `data-dir` | `data` | where the SQLite store lives (`<data-dir>/<service>.sqlite3`) |
/// | `database-url` | SQLite in `data-dir` | `sqlite:///abs/path` or `postgres://user@host:port/db` |
/// | `database-password-file` | none | a file holding the PostgreSQL password |
/// | `tls-cert`, `tls-key`, `tls-ca` | required | this service's certificate and key, and the internal CA |
/// | `log-level` | `info` | trace, debug, info, notice, warning, error, critical |
/// | `shutdown-grace` | `10s` | how long calls in flight may take to finish after SIGTERM |
public struct CommonSettings: Sendable {
    /// The gRPC address.
    public var listen: HostAndPort
    /// The Prometheus endpoint's address.
    public var metricsListen: HostAndPort
    /// The bearer token `/metrics` requires, read from `metrics-token-file`; `nil` when unset.
    public var metricsToken: String?
    /// The data directory (created at start).
    public var dataDirectory: String
    /// The store's URL: `database-url`, or a SQLite file in the data directory.
    public var databaseURL: String
    /// The PostgreSQL password from `database-password-file`.
    public var databasePassword: String?
    /// Certificate, key and CA paths. There is no cleartext mode: internal RPC is always mutual TLS.
    public var tls: TLSFiles
    /// The log level.
    public var logLevel: Logger.Level
    /// How long calls in flight may take to finish after SIGTERM.
    public var shutdownGrace: Duration

    /// The PEM files of a service's mutual-TLS identity.
    public struct TLSFiles: Sendable, Hashable {
        /// The service's certificate chain.
        public var certificate: String
        /// Its private key.
        public var key: String
        /// The CA that issues every internal certificate (trusted for clients and servers).
        public var ca: String

        /// Creates the set.
        public init(certificate: String, key: String, ca: String) {
            self.certificate = certificate
            self.key = key
            self.ca = ca
        }
    }

    static let metricsTokenFile = ConfigKey<String?>(
        "metrics-token-file", help: "File holding a bearer token that GET /metrics then requires.")
    static let dataDirectory = ConfigKey<String>(
        "data-dir", default: "data", help: "Directory of the embedded SQLite store (created when missing).")
    static let databaseURL = ConfigKey<String?>(
        "database-url",
        help: "Store URL: sqlite:///abs/path or postgres://user@host:port/db[?sslmode=...]; "
            + "default: SQLite at <data-dir>/<service>.sqlite3.", secret: true)
    static let databasePasswordFile = ConfigKey<String?>(
        "database-password-file", help: "File holding the PostgreSQL password (keeps it out of the URL).")
    static let tlsCertificate = ConfigKey<String>.required(
        "tls-cert", help: "PEM certificate of this service: its identity for mutual TLS, served and presented.")
    static let tlsKey = ConfigKey<String>.required("tls-key", help: "PEM private key of --tls-cert.")
    static let tlsCA = ConfigKey<String>.required(
        "tls-ca", help: "PEM CA that issues internal certificates; peers' certificates must chain to it.")
    static let logLevel = ConfigKey<String>(
        "log-level", default: "info", help: "trace, debug, info, notice, warning, error or critical.")
    static let shutdownGrace = ConfigKey<Duration>(
        "shutdown-grace", default: .seconds(10), help: "How long calls in flight may take to finish after SIGTERM.")

    static func listen(defaultPort: Int) -> ConfigKey<HostAndPort> {
        ConfigKey("listen", default: HostAndPort(host: "127.0.0.1", port: defaultPort), help: "gRPC address to serve.")
    }

    static func metricsListen(defaultPort: Int) -> ConfigKey<HostAndPort> {
        ConfigKey(
            "metrics-listen", default: HostAndPort(host: "127.0.0.1", port: defaultPort),
            help: "Address of the Prometheus endpoint (GET /metrics).")
    }

    /// The common keys, in `--help` order.
    static func keys(defaultPort: Int, defaultMetricsPort: Int) -> [any AnyConfigKey] {
        [
            Self.listen(defaultPort: defaultPort), Self.metricsListen(defaultPort: defaultMetricsPort),
            Self.metricsTokenFile, Self.dataDirectory, Self.databaseURL, Self.databasePasswordFile, Self.tlsCertificate,
            Self.tlsKey, Self.tlsCA, Self.logLevel, Self.shutdownGrace,
        ]
    }

    /// Reads and validates the common keys of `specification` from `configuration`.
    ///
    /// - Throws: `ConfigError` naming the key: a bad log level, an unreadable TLS or secret file.
    public init(configuration: Configuration, specification: ServiceSpecification) throws(ConfigError) {
        func readSecret(_ key: ConfigKey<String?>) throws(ConfigError) -> String? {
            guard let path = configuration[key] else { return nil }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw configuration.invalid(key, "cannot read the file \(path)")
            }
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else { throw configuration.invalid(key, "the file \(path) is empty") }
            return value
        }

        self.listen = configuration[Self.listen(defaultPort: specification.defaultPort)]
        self.metricsListen = configuration[Self.metricsListen(defaultPort: specification.defaultMetricsPort)]
        self.metricsToken = try readSecret(Self.metricsTokenFile)
        self.dataDirectory = configuration[Self.dataDirectory]
        if let url = configuration[Self.databaseURL] {
            self.databaseURL = url
        } else {
            let directory = URL(fileURLWithPath: self.dataDirectory).standardizedFileURL.path
            self.databaseURL = "sqlite://\(directory)/\(specification.name).sqlite3"
        }
        self.databasePassword = try readSecret(Self.databasePasswordFile)
        guard let level = Logger.Level(rawValue: configuration[Self.logLevel]) else {
            throw configuration.invalid(
                Self.logLevel, "expected trace, debug, info, notice, warning, error or critical")
        }
        self.logLevel = level
        self.shutdownGrace = configuration[Self.shutdownGrace]

        var files: [String] = []
        for key in [Self.tlsCertificate, Self.tlsKey, Self.tlsCA] {
            let path = configuration[key]
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw configuration.invalid(key, "cannot read the file \(path)")
            }
            files.append(path)
        }
        self.tls = TLSFiles(certificate: files[0], key: files[1], ca: files[2])
    }
}
