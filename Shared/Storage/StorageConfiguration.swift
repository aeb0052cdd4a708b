/// Where a service's database lives and how to talk to it, parsed from one URL.
///
/// Accepted URLs:
/// - `sqlite:///absolute/path/file.sqlite`: a SQLite file in WAL mode (created if missing).
/// - `sqlite::memory:`: a private in-memory SQLite database (tests).
/// - `postgres://user:password@host:port/database` (or `postgresql://`): PostgreSQL over TCP; the port
///   defaults to 5432. Percent-encode reserved characters in the user name and password.
///   Query options: `host=/socket/dir` connects to the unix socket `/socket/dir/.s.PGSQL.<port>`
///   instead (the host part may then be empty: `postgres://user:pw@/db?host=/run/postgresql`);
///   `sslmode=disable|prefer|require` (default `prefer`; ignored for unix sockets);
///   `schema=name` sets the connections' `search_path`, so that unqualified tables (including
///   `skyport_migrations`) live in that schema, e.g. one schema per service or per test.
///
/// The URL usually comes from the service's database-URL configuration key; ``redactedURL`` is safe to
/// log. Other settings have defaults and can be changed after parsing.
public struct StorageConfiguration: Sendable, CustomStringConvertible {
    /// TLS use for PostgreSQL over TCP, as in libpq's `sslmode`.
    public enum TLSMode: String, Sendable {
        /// Never use TLS.
        case disable
        /// Use TLS when the server offers it (certificates are verified when it does).
        case prefer
        /// Fail unless the connection uses TLS.
        case require
    }

    /// The parsed target, without options.
    public enum Backend: Sendable, Equatable {
        /// A SQLite file at an absolute path.
        case sqliteFile(path: String)
        /// A private in-memory SQLite database.
        case sqliteInMemory
        /// A PostgreSQL server over TCP.
        case postgresTCP(host: String, port: Int, user: String, password: String?, database: String, tls: TLSMode)
        /// A PostgreSQL server over a unix socket.
        case postgresSocket(path: String, user: String, password: String?, database: String)
    }

    /// The target database.
    public var backend: Backend
    /// The URL with its password replaced by `***`: safe for logs and errors.
    public let redactedURL: String
    /// How long SQLite waits for a lock held by another connection before failing with
    /// ``StorageError/unavailable(_:)``. Default 5 s.
    public var busyTimeout: Duration = .seconds(5)
    /// PostgreSQL: connection pool size. Default 10. (SQLite reads use one connection: they all run on
    /// one storage thread.)
    public var maximumConnections: Int = 10
    /// PostgreSQL: how long to wait for a new connection. Default 10 s.
    public var connectTimeout: Duration = .seconds(10)
    /// PostgreSQL: the schema to use as `search_path` (the `schema` URL option), or `nil` for the
    /// server's default (`public`).
    public var postgresSchema: String? = nil

    /// Parses `url`.
    ///
    /// - Throws: ``StorageError/invalidURL(url:reason:)`` with the redacted URL and what is wrong.
    public init(url: String) throws(StorageError) {
        let redacted = Self.redact(url)
        self.redactedURL = redacted
        func invalid(_ reason: String) -> StorageError { .invalidURL(url: redacted, reason: reason) }

        if url == "sqlite::memory:" {
            self.backend = .sqliteInMemory
            return
        }
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard path.hasPrefix("/") else { throw invalid("the SQLite path must be absolute (sqlite:///abs/path)") }
            guard let decoded = Self.percentDecode(path) else { throw invalid("bad percent-encoding in the path") }
            self.backend = .sqliteFile(path: decoded)
            return
        }
        let rest: Substring
        if url.hasPrefix("postgres://") {
            rest = url.dropFirst("postgres://".count)
        } else if url.hasPrefix("postgresql://") {
            rest = url.dropFirst("postgresql://".count)
        } else {
            throw invalid("unsupported scheme: use sqlite:///path, sqlite::memory:, postgres:// or postgresql://")
        }

        // Split off the query, then user info (before the last '@'), then the path.
        let (beforeQuery, query) = Self.split(rest, at: "?")
        var options: [String: String] = [:]
        for pair in (query ?? "").split(separator: "&") where !pair.isEmpty {
            let (key, value) = Self.split(pair, at: "=")
            guard let key = Self.percentDecode(key), let value = Self.percentDecode(value ?? "") else {
                throw invalid("bad percent-encoding in the query")
            }
            options[key] = value
        }
        let userInfo: Substring?
        let hostAndPath: Substring
        if let at = beforeQuery.lastIndex(of: "@") {
            userInfo = beforeQuery[..<at]
            hostAndPath = beforeQuery[beforeQuery.index(after: at)...]
        } else {
            userInfo = nil
            hostAndPath = beforeQuery
        }
        let (hostPort, path) = Self.split(hostAndPath, at: "/")
        guard let database = Self.percentDecode(path ?? ""), !database.isEmpty else {
            throw invalid("missing database name (postgres://user:password@host:port/database)")
        }
        guard let userInfo, !userInfo.isEmpty else { throw invalid("missing user name") }
        let (rawUser, rawPassword) = Self.split(userInfo, at: ":")
        guard let user = Self.percentDecode(rawUser), !user.isEmpty else {
            throw invalid("missing or badly encoded user name")
        }
        var password: String? = nil
        if let rawPassword {
            guard let decoded = Self.percentDecode(rawPassword) else { throw invalid("badly encoded password") }
            password = decoded
        }

        var host = String(hostPort)
        var port = 5432
        if hostPort.hasPrefix("[") {  // IPv6 literal: [::1]:5432
            guard let close = hostPort.firstIndex(of: "]") else { throw invalid("unterminated IPv6 address") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                guard let parsed = Int(after.dropFirst()), (1...65535).contains(parsed) else {
                    throw invalid("bad port")
                }
                port = parsed
            } else if !after.isEmpty {
                throw invalid("unexpected text after the IPv6 address")
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let parsed = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(parsed) else {
                throw invalid("bad port")
            }
            port = parsed
        }
        for key in options.keys where !["host", "sslmode", "port", "schema"].contains(key) {
            throw invalid("unsupported option '\(key)' (supported: host, port, sslmode, schema)")
        }
        if let schema = options["schema"] {
            let isIdentifier =
                schema.first.map { $0.isLetter || $0 == "_" } == true
                && schema.allSatisfy { ($0.isLetter || $0.isNumber || $0 == "_") && $0.isASCII }
            guard isIdentifier else { throw invalid("schema must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)") }
            self.postgresSchema = schema
        }
        if let portOption = options["port"] {
            guard let parsed = Int(portOption), (1...65535).contains(parsed) else { throw invalid("bad port") }
            port = parsed
        }
        if let socketDirectory = options["host"], socketDirectory.hasPrefix("/") {
            self.backend = .postgresSocket(
                path: socketDirectory + "/.s.PGSQL.\(port)", user: user, password: password, database: database)
            return
        }
        if let hostOption = options["host"] { host = hostOption }
        guard !host.isEmpty else { throw invalid("missing host (or ?host=/socket/directory)") }
        var tls = TLSMode.prefer
        if let mode = options["sslmode"] {
            guard let parsed = TLSMode(rawValue: mode) else {
                throw invalid("sslmode must be disable, prefer or require")
            }
            tls = parsed
        }
        self.backend = .postgresTCP(
            host: host, port: port, user: user, password: password, database: database, tls: tls)
    }

    /// The redacted URL.
    public var description: String { self.redactedURL }

    /// A copy whose PostgreSQL password is `password` (e.g. read from a secret file, so that it stays
    /// out of the URL); SQLite configurations are returned unchanged.
    public func withPassword(_ password: String) -> StorageConfiguration {
        var copy = self
        switch self.backend {
        case .postgresTCP(let host, let port, let user, _, let database, let tls):
            copy.backend = .postgresTCP(
                host: host, port: port, user: user, password: password, database: database, tls: tls)
        case .postgresSocket(let path, let user, _, let database):
            copy.backend = .postgresSocket(path: path, user: user, password: password, database: database)
        case .sqliteFile, .sqliteInMemory:
            break
        }
        return copy
    }

    /// The SQL dialect of the backend.
    public var dialect: SQLDialect {
        switch self.backend {
        case .sqliteFile, .sqliteInMemory: .sqlite
        case .postgresTCP, .postgresSocket: .postgres
        }
    }

    /// `url` with the password (in the user info, or a `password=` option) replaced by `***`.
    ///
    /// Works on URLs that do not parse, so errors about them can show them safely.
    public static func redact(_ url: String) -> String {
        var result = url
        if let scheme = result.firstRange(of: "://") {
            let afterScheme = result[scheme.upperBound...]
            // The user info ends at the last '@' of the authority; a password may itself contain '/' or
            // '?' when not encoded, so look for the last '@' anywhere: over-redacting is the safe side.
            if let at = afterScheme.lastIndex(of: "@"),
                let colon = afterScheme[..<at].firstIndex(of: ":")
            {
                result.replaceSubrange(result.index(after: colon)..<at, with: "***")
            }
        }
        if let range = result.firstRange(of: "password=") {
            let end = result[range.upperBound...].firstIndex(of: "&") ?? result.endIndex
            result.replaceSubrange(range.upperBound..<end, with: "***")
        }
        return result
    }

    private static func split(_ text: Substring, at separator: Character) -> (Substring, Substring?) {
        guard let index = text.firstIndex(of: separator) else { return (text, nil) }
        return (text[..<index], text[text.index(after: index)...])
    }

    /// Decodes `%XX` escapes; `nil` for a malformed escape or invalid UTF-8.
    static func percentDecode(_ text: some StringProtocol) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
