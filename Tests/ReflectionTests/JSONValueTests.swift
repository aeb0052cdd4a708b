import SkyportReflection
import Testing

/// The small JSON parser and printer the proto3 mapping runs on.
@Suite struct JSONValueTests {
    @Test func parsesAndPrettyPrintsDeterministically() throws {
        let value = try JSONValue.parse(#" {"b": [1, -2.5e3, true, null, {}], "a": {"x": "y"}, "c": []} "#)
        #expect(value["b"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .null, .object([])]))
        #expect(value["missing"] == nil)
        #expect(
            value.formatted() == """
                {
                  "b": [
                    1,
                    -2.5e3,
                    true,
                    null,
                    {}
                  ],
                  "a": {
                    "x": "y"
                  },
                  "c": []
                }
                """)
        #expect(value.description == #"{"b":[1,-2.5e3,true,null,{}],"a":{"x":"y"},"c":[]}"#)
        #expect(try JSONValue.parse(value.formatted()) == value)
    }

    @Test func numbersKeepTheirExactText() throws {
        #expect(try JSONValue.parse("18446744073709551615") == .number("18446744073709551615"))
        #expect(try JSONValue.parse("-0.000000000000000000001") == .number("-0.000000000000000000001"))
    }

    @Test func stringEscapesRoundTrip() throws {
        let value = try JSONValue.parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00\u0001""#)
        #expect(value == .string("a\"b\\c/d\n\té😀\u{01}"))
        #expect(value.formatted() == #""a\"b\\c/d\n\té😀\u0001""#)
    }

    static let invalid: [(String, String)] = [
        ("", "unexpected end of input, expected a value"),
        ("01", "invalid number: leading zero"),
        ("1.", "invalid number: expected a digit after '.'"),
        ("-", "invalid number: expected a digit"),
        ("+1", "unexpected character '+', expected a value"),
        ("[1,]", "unexpected character ']', expected a value"),
        (#"{"a" 1}"#, "expected ':'"),
        (#"{"a": 1,}"#, "expected a member name in double quotes"),
        ("{'a': 1}", "expected a member name in double quotes"),
        (#""\ud800""#, "unpaired surrogate in \\u escape"),
        (#""\x""#, "invalid escape sequence"),
        ("\"a\nb\"", "control character in string (must be escaped)"),
        (#""abc"#, "unterminated string"),
        ("tru", "invalid literal, expected 'true'"),
        ("{} {}", "unexpected text after the JSON value"),
        ("NaN", "unexpected character 'N', expected a value"),
    ]

    @Test(arguments: Self.invalid)
    func invalidJSONIsRefused(text: String, reason: String) {
        let error = #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(text) }
        #expect(error?.reason == reason)
    }

    @Test func deepNestingIsRefusedNotRecursedInto() {
        let deep = String(repeating: "[", count: 100_000)
        let error = #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(deep) }
        #expect(error?.reason == "nesting deeper than \(JSONValue.maxDepth)")
        #expect(throws: Never.self) {
            try JSONValue.parse(
                String(repeating: "[", count: JSONValue.maxDepth) + String(repeating: "]", count: JSONValue.maxDepth))
        }
    }

    @Test func sequencesOfValuesAreJSONLines() throws {
        #expect(
            try JSONValue.parseSequence("{\"a\": 1}\n{\"a\": 2}\n\n[3]") == [
                .object([("a", .number("1"))]), .object([("a", .number("2"))]), .array([.number("3")]),
            ])
        #expect(try JSONValue.parseSequence("  \n") == [])
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parseSequence("{\"a\": 1}\n{") }
    }
}
