/// One result row: column names and values, already read from the backend (no open cursor).
///
/// Decode columns by name with ``decode(_:_:)``; names match exactly first, then case-insensitively,
/// because PostgreSQL folds unquoted identifiers to lower case and SQLite keeps them as written.
public struct Row: Sendable, Hashable {
    /// Column names, in result order.
    public let columns: [String]
    /// Values, parallel to ``columns``.
    public let values: [SQLValue]

    /// Creates a row; `columns` and `values` must have the same count.
    public init(columns: [String], values: [SQLValue]) {
        precondition(columns.count == values.count, "a row needs one value per column")
        self.columns = columns
        self.values = values
    }

    /// The raw value of `column`, or `nil` if the row has no such column.
    public subscript(column: String) -> SQLValue? {
        self.index(of: column).map { self.values[$0] }
    }

    /// Decodes `column` as `T`.
    ///
    /// - Throws: ``StorageError/decoding(column:reason:)`` when the column is missing, is `NULL` and
    ///   `T` is not optional, or holds a value of another type (the message names the types, never
    ///   the value).
    public func decode<T: SQLDecodable>(_ type: T.Type, _ column: String) throws(StorageError) -> T {
        guard let index = self.index(of: column) else {
            throw .decoding(column: column, reason: "no such column (columns: \(self.columns.joined(separator: ", ")))")
        }
        let value = self.values[index]
        guard let decoded = T(sqlValue: value) else {
            if case .null = value {
                throw .decoding(column: column, reason: "unexpected NULL for \(T.self)")
            }
            throw .decoding(column: column, reason: "cannot decode \(value) as \(T.self)")
        }
        return decoded
    }

    private func index(of column: String) -> Int? {
        if let exact = self.columns.firstIndex(of: column) { return exact }
        let lowered = column.lowercased()
        return self.columns.firstIndex { $0.lowercased() == lowered }
    }
}
