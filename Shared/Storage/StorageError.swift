/// A failure of the storage layer, independent of the backend.
///
/// Backend errors (GRDB's `DatabaseError`, postgres-nio's `PSQLError`) are turned into this type at the
/// boundary, so services match on ``uniqueViolation(constraint:)`` rather than on SQLite result codes or
/// SQLSTATEs. Messages never contain bound parameter values or passwords. ``rpcError`` maps each case to
/// the status that crosses the wire.
public enum StorageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The database URL could not be parsed; the associated text shows it with the password replaced.
    case invalidURL(url: String, reason: String)
    /// A unique or primary-key constraint was violated (SQLite `SQLITE_CONSTRAINT_UNIQUE`/`PRIMARYKEY`,
    /// SQLSTATE 23505). The constraint is the PostgreSQL constraint name or SQLite's `table.column`.
    case uniqueViolation(constraint: String?)
    /// A foreign-key constraint was violated (`SQLITE_CONSTRAINT_FOREIGNKEY`, SQLSTATE 23503).
    case foreignKeyViolation(constraint: String?)
    /// Another constraint (`NOT NULL`, `CHECK`) was violated.
    case constraintViolation(String)
    /// A row the caller required does not exist (raised by services and helpers, not by the backends).
    case notFound(String)
    /// The database cannot be reached or is busy: connection failures, `SQLITE_BUSY` after the busy
    /// timeout, a closed pool. Retrying later may succeed.
    case unavailable(String)
    /// The transaction lost a race with a concurrent one (serialization failure, deadlock); retry it.
    case conflict(String)
    /// A column could not be decoded into the requested Swift type.
    case decoding(column: String, reason: String)
    /// Migrations cannot be applied: edited, reordered, or unknown to this code.
    case migration(String)
    /// A statement is malformed for the portable subset (placeholder count, nested transaction…).
    case invalidStatement(String)
    /// The task was cancelled while waiting for the database.
    case cancelled
    /// Any other database error; the text is the backend's message (SQL errors, never parameter values).
    case other(String)

    /// A one-line description for logs.
    public var description: String {
        switch self {
        case .invalidURL(let url, let reason): "invalid database URL '\(url)': \(reason)"
        case .uniqueViolation(let constraint): "unique constraint violated" + Self.suffix(constraint)
        case .foreignKeyViolation(let constraint): "foreign key constraint violated" + Self.suffix(constraint)
        case .constraintViolation(let message): "constraint violated: \(message)"
        case .notFound(let message): "not found: \(message)"
        case .unavailable(let message): "database unavailable: \(message)"
        case .conflict(let message): "transaction conflict: \(message)"
        case .decoding(let column, let reason): "cannot decode column '\(column)': \(reason)"
        case .migration(let message): "migration error: \(message)"
        case .invalidStatement(let message): "invalid statement: \(message)"
        case .cancelled: "cancelled"
        case .other(let message): "database error: \(message)"
        }
    }

    private static func suffix(_ constraint: String?) -> String {
        constraint.map { " (\($0))" } ?? ""
    }
}
