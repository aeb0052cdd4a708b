import Synchronization

/// Rewrites the portable `?` placeholders for PostgreSQL, which numbers them (`$1`, `$2`, …).
///
/// Only a `?` in SQL code counts. It is left alone inside `'string literals'` (with `''` escapes,
/// including `E'…'` strings with backslash escapes), `"quoted identifiers"`, `$tag$dollar-quoted$tag$`
/// strings, `-- line comments` and `/* block comments */` (nested, as PostgreSQL allows). PostgreSQL's
/// JSON operators `?`, `?|` and `?&` are therefore not usable in portable SQL: write
/// `jsonb_exists(…)` instead.
public enum SQLPlaceholders {
    /// Counts the `?` placeholders in `sql`. Counts are remembered per statement text (services run the
    /// same few hundred statements over and over; a look-up costs less than a scan).
    public static func count(in sql: String) -> Int {
        if let known = Self.counts.withLock({ $0[sql] }) { return known }
        var count = 0
        Self.scan(sql) { _ in count += 1 }
        Self.counts.withLock { counts in
            if counts.count >= Self.rememberedStatements { counts.removeAll(keepingCapacity: true) }
            counts[sql] = count
        }
        return count
    }

    /// At most this many statement texts are remembered; then the memory starts over.
    static let rememberedStatements = 1024
    private static let counts = Mutex<[String: Int]>([:])

    /// Returns `sql` with its `?` placeholders replaced by `$1…$n`, and `n`.
    public static func numbered(_ sql: String) -> (sql: String, count: Int) {
        var output = String()
        output.reserveCapacity(sql.utf8.count + 8)
        var count = 0
        var copied = sql.startIndex
        Self.scan(sql) { index in
            output += sql[copied..<index]
            count += 1
            output += "$\(count)"
            copied = sql.index(after: index)
        }
        output += sql[copied...]
        return (output, count)
    }

    /// Calls `placeholder` with the index of each `?` that is SQL code, in order.
    private static func scan(_ sql: String, _ placeholder: (String.Index) -> Void) {
        let scalars = sql.unicodeScalars
        var index = scalars.startIndex

        func peek(_ offset: Int = 1) -> Unicode.Scalar? {
            var i = index
            for _ in 0..<offset {
                guard i < scalars.endIndex else { return nil }
                i = scalars.index(after: i)
            }
            return i < scalars.endIndex ? scalars[i] : nil
        }
        func advance() { index = scalars.index(after: index) }

        while index < scalars.endIndex {
            let scalar = scalars[index]
            switch scalar {
            case "?":
                placeholder(index)
                advance()
            case "'":
                // `E'…'` allows backslash escapes; plain strings only `''`.
                let backslashEscapes = Self.isEscapeStringPrefix(scalars, before: index)
                advance()
                while index < scalars.endIndex {
                    let c = scalars[index]
                    if backslashEscapes && c == "\\" {
                        advance()
                        if index < scalars.endIndex { advance() }
                        continue
                    }
                    advance()
                    if c == "'" {
                        if index < scalars.endIndex && scalars[index] == "'" { advance() } else { break }
                    }
                }
            case "\"":
                advance()
                while index < scalars.endIndex {
                    let c = scalars[index]
                    advance()
                    if c == "\"" {
                        if index < scalars.endIndex && scalars[index] == "\"" { advance() } else { break }
                    }
                }
            case "-" where peek() == "-":
                while index < scalars.endIndex && scalars[index] != "\n" { advance() }
            case "/" where peek() == "*":
                advance()
                advance()
                var depth = 1
                while index < scalars.endIndex && depth > 0 {
                    if scalars[index] == "*" && peek() == "/" {
                        depth -= 1
                        advance()
                    } else if scalars[index] == "/" && peek() == "*" {
                        depth += 1
                        advance()
                    }
                    advance()
                }
            case "$":
                if let tag = Self.dollarTag(scalars, at: index) {
                    // Skip the opening tag, then everything up to and including the closing one.
                    for _ in tag.unicodeScalars { advance() }
                    let rest = String(scalars[index...])
                    if let end = rest.firstRange(of: tag) {
                        let consumed = rest[..<end.upperBound].unicodeScalars.count
                        for _ in 0..<consumed { advance() }
                    } else {
                        index = scalars.endIndex
                    }
                } else {
                    advance()
                }
            default:
                advance()
            }
        }
    }

    /// Whether the quote at `index` opens an `E'…'` string (an `E` that is not part of a longer word).
    private static func isEscapeStringPrefix(
        _ scalars: String.UnicodeScalarView, before index: String.UnicodeScalarView.Index
    ) -> Bool {
        guard index > scalars.startIndex else { return false }
        let previous = scalars.index(before: index)
        guard scalars[previous] == "E" || scalars[previous] == "e" else { return false }
        guard previous > scalars.startIndex else { return true }
        let beforeE = scalars[scalars.index(before: previous)]
        return !(beforeE.properties.isAlphabetic || beforeE == "_" || ("0"..."9").contains(beforeE))
    }

    /// The dollar-quote tag (`$$` or `$name$`) starting at `index`, if any. `$1` is not a tag.
    private static func dollarTag(
        _ scalars: String.UnicodeScalarView, at index: String.UnicodeScalarView.Index
    ) -> String? {
        var tag = "$"
        var i = scalars.index(after: index)
        var first = true
        while i < scalars.endIndex {
            let c = scalars[i]
            if c == "$" { return tag + "$" }
            let isLetter = c.properties.isAlphabetic || c == "_"
            let isDigit = ("0"..."9").contains(c)
            guard isLetter || (isDigit && !first) else { return nil }
            tag.unicodeScalars.append(c)
            first = false
            i = scalars.index(after: i)
        }
        return nil
    }
}
