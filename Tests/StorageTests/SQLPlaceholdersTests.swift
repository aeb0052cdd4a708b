import SkyportStorage
import Testing

@Suite("? → $n placeholder rewriting")
struct SQLPlaceholdersTests {
    @Test("numbers placeholders in order")
    func numbersInOrder() {
        let (sql, count) = SQLPlaceholders.numbered("SELECT a FROM t WHERE b = ? AND c IN (?, ?)")
        #expect(sql == "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)")
        #expect(count == 3)
    }

    @Test(
        "leaves ? alone inside literals, identifiers and comments",
        arguments: [
            ("SELECT '?' , ?", "SELECT '?' , $1"),
            ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"),
            ("SELECT E'\\' ?', ?", "SELECT E'\\' ?', $1"),
            ("SELECT \"odd?name\" FROM t WHERE x = ?", "SELECT \"odd?name\" FROM t WHERE x = $1"),
            ("SELECT ? -- what?\n, ?", "SELECT $1 -- what?\n, $2"),
            ("SELECT /* a? /* nested? */ b? */ ?", "SELECT /* a? /* nested? */ b? */ $1"),
            ("SELECT $$ ? $$, $tag$ ?$ $tag$, ?", "SELECT $$ ? $$, $tag$ ?$ $tag$, $1"),
            ("SELECT 'naïve ✓ ?', ?", "SELECT 'naïve ✓ ?', $1"),
        ])
    func skipsNonCode(input: String, expected: String) {
        #expect(SQLPlaceholders.numbered(input).sql == expected)
    }

    @Test("counts only code placeholders")
    func counts() {
        #expect(SQLPlaceholders.count(in: "INSERT INTO t VALUES (?, '?', ?)") == 2)
        #expect(SQLPlaceholders.count(in: "SELECT 1") == 0)
        #expect(SQLPlaceholders.count(in: "SELECT 'unterminated ?") == 0)
    }
}
