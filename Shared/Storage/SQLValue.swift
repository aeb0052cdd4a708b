public import struct Foundation.Date

/// A value bound to, or read from, a SQL statement, in the portable subset both backends share.
///
/// The cases are the storage classes of SQLite plus a boolean, which PostgreSQL keeps distinct:
/// - `integer`: `BIGINT` (SQLite `INTEGER`); Swift `Int`, `Int64`, `Int32`.
/// - `real`: `DOUBLE PRECISION`; Swift `Double`. (PostgreSQL's `REAL` is 32-bit: avoid it.)
/// - `text`: `TEXT`; Swift `String`.
/// - `bytes`: `BLOB` in SQLite, `BYTEA` in PostgreSQL (see ``SQLDialect/bytesType``); Swift `[UInt8]`.
/// - `bool`: `BOOLEAN` (SQLite stores 0/1 and reads back an integer, which decodes as `Bool` too).
/// - `null`: SQL `NULL`; Swift `Optional.none`.
///
/// Dates are stored as `BIGINT` milliseconds since the Unix epoch (UTC): a `Date` binds as `.integer`
/// and decodes from one. This sorts and compares correctly in SQL on both backends and avoids the two
/// backends' different timestamp types; sub-millisecond precision is rounded away.
public enum SQLValue: Sendable, Hashable, CustomStringConvertible {
    /// SQL `NULL`.
    case null
    /// A 64-bit signed integer.
    case integer(Int64)
    /// A 64-bit floating-point number.
    case real(Double)
    /// A UTF-8 string.
    case text(String)
    /// Raw bytes.
    case bytes([UInt8])
    /// A boolean.
    case bool(Bool)

    /// The storage class name, for error messages (never the value itself, which may be private).
    public var description: String {
        switch self {
        case .null: "NULL"
        case .integer: "integer"
        case .real: "real"
        case .text: "text"
        case .bytes: "bytes"
        case .bool: "boolean"
        }
    }
}

/// A Swift value that can be bound to a `?` placeholder.
///
/// Conforming types: `String`, `Int`, `Int64`, `Int32`, `Double`, `Bool`, `[UInt8]`, `Date`
/// (epoch milliseconds), ``SQLValue`` itself, and `Optional` of any of these (`nil` binds `NULL`).
public protocol SQLBindable: Sendable {
    /// The value to bind.
    var sqlValue: SQLValue { get }
}

/// A Swift type that a column value can be decoded into with ``Row/decode(_:_:)``.
public protocol SQLDecodable {
    /// Converts a column value, or returns `nil` when the value has the wrong type or range.
    init?(sqlValue: SQLValue)
}

extension SQLValue: SQLBindable, SQLDecodable {
    /// The value itself.
    public var sqlValue: SQLValue { self }

    /// Any value, including `NULL`.
    public init?(sqlValue: SQLValue) { self = sqlValue }
}

extension String: SQLBindable, SQLDecodable {
    /// `.text`.
    public var sqlValue: SQLValue { .text(self) }

    /// From `.text` only: numbers are not silently turned into strings.
    public init?(sqlValue: SQLValue) {
        guard case .text(let value) = sqlValue else { return nil }
        self = value
    }
}

extension Int64: SQLBindable, SQLDecodable {
    /// `.integer`.
    public var sqlValue: SQLValue { .integer(self) }

    /// From `.integer`.
    public init?(sqlValue: SQLValue) {
        guard case .integer(let value) = sqlValue else { return nil }
        self = value
    }
}

extension Int: SQLBindable, SQLDecodable {
    /// `.integer`.
    public var sqlValue: SQLValue { .integer(Int64(self)) }

    /// From `.integer`, when it fits.
    public init?(sqlValue: SQLValue) {
        guard case .integer(let value) = sqlValue, let exact = Int(exactly: value) else { return nil }
        self = exact
    }
}

extension Int32: SQLBindable, SQLDecodable {
    /// `.integer`.
    public var sqlValue: SQLValue { .integer(Int64(self)) }

    /// From `.integer`, when it fits in 32 bits.
    public init?(sqlValue: SQLValue) {
        guard case .integer(let value) = sqlValue, let exact = Int32(exactly: value) else { return nil }
        self = exact
    }
}

extension Double: SQLBindable, SQLDecodable {
    /// `.real`.
    public var sqlValue: SQLValue { .real(self) }

    /// From `.real`, or from `.integer` because SQLite may store an integral double as an integer.
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .real(let value): self = value
        case .integer(let value): self = Double(value)
        default: return nil
        }
    }
}

extension Bool: SQLBindable, SQLDecodable {
    /// `.bool`.
    public var sqlValue: SQLValue { .bool(self) }

    /// From `.bool`, or from `.integer` 0 or 1 (how SQLite stores a `BOOLEAN`).
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .bool(let value): self = value
        case .integer(0): self = false
        case .integer(1): self = true
        default: return nil
        }
    }
}

extension Array: SQLBindable where Element == UInt8 {
    /// `.bytes`.
    public var sqlValue: SQLValue { .bytes(self) }
}

extension Array: SQLDecodable where Element == UInt8 {
    /// From `.bytes`.
    public init?(sqlValue: SQLValue) {
        guard case .bytes(let value) = sqlValue else { return nil }
        self = value
    }
}

extension Date: SQLBindable, SQLDecodable {
    /// `.integer` milliseconds since 1970-01-01T00:00:00Z, rounded to the nearest millisecond (so a
    /// date with whole milliseconds survives the binary floating-point round trip exactly).
    public var sqlValue: SQLValue {
        .integer(Int64((self.timeIntervalSince1970 * 1000).rounded()))
    }

    /// From `.integer` milliseconds since the Unix epoch.
    public init?(sqlValue: SQLValue) {
        guard case .integer(let milliseconds) = sqlValue else { return nil }
        self = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}

extension Optional: SQLBindable where Wrapped: SQLBindable {
    /// The wrapped value, or `.null`.
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

extension Optional: SQLDecodable where Wrapped: SQLDecodable {
    /// `nil` from `.null`; otherwise the wrapped type's conversion.
    public init?(sqlValue: SQLValue) {
        if case .null = sqlValue {
            self = .none
            return
        }
        guard let value = Wrapped(sqlValue: sqlValue) else { return nil }
        self = .some(value)
    }
}
