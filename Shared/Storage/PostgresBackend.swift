import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL backend: a postgres-nio `PostgresClient` (a connection pool on NIO event loops).
///
/// The pool only hands out connections while ``run()`` runs (see ``Database/run()``). A transaction
/// leases one connection for its whole closure and wraps it in `BEGIN … COMMIT`; all I/O is async on
/// the client's event loops, and our code only awaits it.
final class PostgresBackend: Sendable {
    /// A leased connection inside a transaction.
    struct Access: Sendable {
        let connection: PostgresConnection
        let logger: Logger

        func run(_ sql: String, _ values: [SQLValue], wantsRows: Bool) async throws(StorageError) -> (
            rows: [Row], affected: Int
        ) {
            let (numbered, _) = SQLPlaceholders.numbered(sql)
            var bindings = PostgresBindings(capacity: values.count)
            for value in values {
                switch value {
                case .null: bindings.appendNull()
                case .integer(let value): bindings.append(value)
                case .real(let value): bindings.append(value)
                case .text(let value): bindings.append(value)
                case .bytes(let value): bindings.append(ByteBuffer(bytes: value))
                case .bool(let value): bindings.append(value)
                }
            }
            do {
                // The future-returning overload, because it also reports the affected-row count.
                let future: EventLoopFuture<PostgresQueryResult> = self.connection.query(
                    PostgresQuery(unsafeSQL: numbered, binds: bindings), logger: self.logger)
                let result = try await future.get()
                let rows = wantsRows ? try result.rows.map(PostgresBackend.row) : []
                return (rows, result.metadata.rows ?? 0)
            } catch {
                throw PostgresBackend.storageError(error)
            }
        }
    }

    let client: PostgresClient
    /// postgres-nio's own logger: never below `info`, because its debug output includes queries.
    let clientLogger: Logger

    init(configuration: StorageConfiguration, logger: Logger) {
        var config: PostgresClient.Configuration
        switch configuration.backend {
        case .postgresTCP(let host, let port, let user, let password, let database, let tls):
            let tlsConfig: PostgresClient.Configuration.TLS =
                switch tls {
                case .disable: .disable
                case .prefer: .prefer(.makeClientConfiguration())
                case .require: .require(.makeClientConfiguration())
                }
            config = .init(
                host: host, port: port, username: user, password: password, database: database, tls: tlsConfig)
        case .postgresSocket(let path, let user, let password, let database):
            config = .init(unixSocketPath: path, username: user, password: password, database: database)
        case .sqliteFile, .sqliteInMemory:
            preconditionFailure("PostgresBackend needs a PostgreSQL configuration")
        }
        config.options.maximumConnections = max(1, configuration.maximumConnections)
        config.options.connectTimeout = configuration.connectTimeout
        if let schema = configuration.postgresSchema {
            config.options.additionalStartupParameters = [("search_path", schema)]
        }
        var clientLogger = logger
        clientLogger.logLevel = max(logger.logLevel, .info)
        self.clientLogger = clientLogger
        self.client = PostgresClient(configuration: config, backgroundLogger: clientLogger)
    }

    /// Runs the pool until the task is cancelled (or, inside a swift-service-lifecycle `ServiceGroup`,
    /// until graceful shutdown); connections close when it returns.
    func run() async {
        await self.client.run()
    }

    /// Runs `body` on one connection inside `BEGIN [READ ONLY] … COMMIT`.
    func transaction<T: Sendable>(
        readOnly: Bool, logger: Logger, _ body: (Transaction) async throws -> T
    ) async throws -> T {
        // Errors before the connection is leased come from the pool; errors after it are the closure's
        // (passed through unchanged) or already ``StorageError``s.
        var leased = false
        do {
            return try await self.client.withConnection { connection in
                leased = true
                let access = Access(connection: connection, logger: self.clientLogger)
                _ = try await access.run(readOnly ? "BEGIN READ ONLY" : "BEGIN", [], wantsRows: false)
                do {
                    let value = try await Transaction.run(body, on: .postgres(access), logger: logger)
                    _ = try await access.run("COMMIT", [], wantsRows: false)
                    return value
                } catch {
                    await Self.rollback(connection, access: access, logger: logger)
                    throw error
                }
            }
        } catch  where !leased {
            // No connection: the pool is closed, the server is unreachable (postgres-nio's pool keeps
            // retrying and fails waiting requests after its 60 s circuit breaker trips), or the caller
            // gave up (cancellation, e.g. an RPC deadline) while waiting.
            if Task.isCancelled { throw StorageError.cancelled }
            if error is PSQLError { throw Self.storageError(error) }
            throw StorageError.unavailable("no database connection (\(type(of: error)))")
        }
    }

    /// Rolls back in an unstructured task so that a cancelled caller still ends the transaction; if
    /// that fails, closes the connection rather than return it to the pool mid-transaction.
    private static func rollback(_ connection: PostgresConnection, access: Access, logger: Logger) async {
        let result = await Task {
            _ = try await access.run("ROLLBACK", [], wantsRows: false)
        }.result
        if case .failure(let error) = result {
            logger.error("storage rollback failed; closing the connection", metadata: ["storage.error": "\(error)"])
            try? await connection.close()
        }
    }

    /// Converts a result row to the portable representation.
    static func row(_ row: PostgresRow) throws(StorageError) -> Row {
        var columns: [String] = []
        var values: [SQLValue] = []
        for cell in row {
            columns.append(cell.columnName)
            values.append(try Self.value(cell))
        }
        return Row(columns: columns, values: values)
    }

    private static func value(_ cell: PostgresCell) throws(StorageError) -> SQLValue {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .int2, .int4, .int8:
                return .integer(try cell.decode(Int64.self))
            case .float4, .float8:
                return .real(try cell.decode(Double.self))
            case .bool:
                return .bool(try cell.decode(Bool.self))
            case .bytea:
                var buffer = try cell.decode(ByteBuffer.self)
                return .bytes(buffer.readBytes(length: buffer.readableBytes) ?? [])
            case .text, .varchar, .bpchar, .name, .uuid, .json:
                return .text(try cell.decode(String.self))
            case .numeric:
                // SUM/AVG of integers are numeric: integral values that fit are the portable integer,
                // read from the exact decimal text (a Double would round sums beyond 2^53).
                let decimal = try cell.decode(Decimal.self)
                if let integer = Int64(decimal.description), Decimal(integer) == decimal {
                    return .integer(integer)
                }
                return .real(NSDecimalNumber(decimal: decimal).doubleValue)
            default:
                throw StorageError.decoding(
                    column: cell.columnName,
                    reason: "PostgreSQL type \(cell.dataType) is outside the portable subset")
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw .decoding(column: cell.columnName, reason: "cannot read PostgreSQL \(cell.dataType) value")
        }
    }

    /// Maps postgres-nio failures to ``StorageError``, by SQLSTATE for server errors.
    ///
    /// `PSQLError`'s own description is deliberately generic; only the SQLSTATE, constraint name and
    /// server message are used here (the message names objects, and the query text is never included).
    static func storageError(_ error: any Error) -> StorageError {
        if let error = error as? StorageError { return error }
        if error is CancellationError { return .cancelled }
        guard let error = error as? PSQLError else { return .other("\(type(of: error))") }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "?????"
            let message = error.serverInfo?[.message] ?? "server error"
            let constraint = error.serverInfo?[.constraintName]
            switch state {
            case "23505": return .uniqueViolation(constraint: constraint)
            case "23503": return .foreignKeyViolation(constraint: constraint)
            case "23502", "23514", "23P01": return .constraintViolation(message)
            case "40001", "40P01": return .conflict(message)
            case "57014": return .cancelled
            case _
            where state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57P") || state.hasPrefix("28")
                || state == "3D000":
                return .unavailable("SQLSTATE \(state): \(message)")
            default:
                return .other("SQLSTATE \(state): \(message)")
            }
        case .queryCancelled:
            return .cancelled
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown,
            .sslUnsupported, .failedToAddSSLHandler, .unsupportedAuthMechanism, .authMechanismRequiresPassword,
            .saslError:
            return .unavailable("\(error.code)")
        default:
            return .other("\(error.code)")
        }
    }
}
