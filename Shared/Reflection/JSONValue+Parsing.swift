/// Text that is not valid JSON (RFC 8259), with where the problem is.
public struct JSONSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public var reason: String
    /// 1-based line.
    public var line: Int
    /// 1-based column, in bytes.
    public var column: Int

    /// A one-line description.
    public var description: String { "invalid JSON at line \(self.line), column \(self.column): \(self.reason)" }
}

extension JSONValue {
    /// How deeply arrays and objects may nest; deeper input is rejected rather than risking the stack.
    public static let maxDepth = 100

    /// Parses one JSON value; only whitespace may surround it.
    ///
    /// - Throws: `JSONSyntaxError`.
    public static func parse(_ text: String) throws -> JSONValue {
        var parser = JSONParser(Array(text.utf8))
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.isAtEnd else { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    /// Parses zero or more JSON values separated by whitespace (JSON lines, or values back to back).
    ///
    /// - Throws: `JSONSyntaxError`.
    public static func parseSequence(_ text: String) throws -> [JSONValue] {
        var parser = JSONParser(Array(text.utf8))
        var values: [JSONValue] = []
        parser.skipWhitespace()
        while !parser.isAtEnd {
            values.append(try parser.parseValue(depth: 0))
            parser.skipWhitespace()
        }
        return values
    }
}

/// A recursive-descent parser over UTF-8 bytes.
struct JSONParser {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { self.index >= self.bytes.count }

    func error(_ reason: String) -> JSONSyntaxError {
        var line = 1
        var lineStart = 0
        for position in 0..<min(self.index, self.bytes.count) where self.bytes[position] == UInt8(ascii: "\n") {
            line += 1
            lineStart = position + 1
        }
        return JSONSyntaxError(reason: reason, line: line, column: self.index - lineStart + 1)
    }

    mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): self.index += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws -> JSONValue {
        guard let byte = self.peek() else { throw self.error("unexpected end of input, expected a value") }
        switch byte {
        case UInt8(ascii: "{"): return try self.parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try self.parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try self.parseString())
        case UInt8(ascii: "t"): try self.expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try self.expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try self.expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try self.parseNumber())
        default: throw self.error("unexpected character \(Self.show(byte)), expected a value")
        }
    }

    private func peek() -> UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    private static func show(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x\(String(byte, radix: 16))"
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard self.peek() == byte else {
            throw self.error(self.isAtEnd ? "unexpected end of input, expected \(what)" : "expected \(what)")
        }
        self.index += 1
    }

    private mutating func expectLiteral(_ literal: String) throws {
        for byte in literal.utf8 {
            guard self.peek() == byte else { throw self.error("invalid literal, expected '\(literal)'") }
            self.index += 1
        }
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        guard depth <= JSONValue.maxDepth else { throw self.error("nesting deeper than \(JSONValue.maxDepth)") }
        self.index += 1
        var members: [(key: String, value: JSONValue)] = []
        self.skipWhitespace()
        if self.peek() == UInt8(ascii: "}") {
            self.index += 1
            return .object(members)
        }
        while true {
            self.skipWhitespace()
            guard self.peek() == UInt8(ascii: "\"") else {
                throw self.error(
                    self.isAtEnd
                        ? "unexpected end of input, expected a member name" : "expected a member name in double quotes")
            }
            let key = try self.parseString()
            self.skipWhitespace()
            try self.expect(UInt8(ascii: ":"), "':'")
            self.skipWhitespace()
            members.append((key, try self.parseValue(depth: depth)))
            self.skipWhitespace()
            if self.peek() == UInt8(ascii: ",") {
                self.index += 1
                continue
            }
            try self.expect(UInt8(ascii: "}"), "',' or '}'")
            return .object(members)
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        guard depth <= JSONValue.maxDepth else { throw self.error("nesting deeper than \(JSONValue.maxDepth)") }
        self.index += 1
        var elements: [JSONValue] = []
        self.skipWhitespace()
        if self.peek() == UInt8(ascii: "]") {
            self.index += 1
            return .array(elements)
        }
        while true {
            self.skipWhitespace()
            elements.append(try self.parseValue(depth: depth))
            self.skipWhitespace()
            if self.peek() == UInt8(ascii: ",") {
                self.index += 1
                continue
            }
            try self.expect(UInt8(ascii: "]"), "',' or ']'")
            return .array(elements)
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, returned as its text.
    private mutating func parseNumber() throws -> String {
        let start = self.index
        if self.peek() == UInt8(ascii: "-") { self.index += 1 }
        guard let first = self.peek(), Self.isDigit(first) else { throw self.error("invalid number: expected a digit") }
        self.index += 1
        if first == UInt8(ascii: "0"), let next = self.peek(), Self.isDigit(next) {
            throw self.error("invalid number: leading zero")
        }
        self.skipDigits()
        if self.peek() == UInt8(ascii: ".") {
            self.index += 1
            guard let next = self.peek(), Self.isDigit(next) else {
                throw self.error("invalid number: expected a digit after '.'")
            }
            self.skipDigits()
        }
        if self.peek() == UInt8(ascii: "e") || self.peek() == UInt8(ascii: "E") {
            self.index += 1
            if self.peek() == UInt8(ascii: "+") || self.peek() == UInt8(ascii: "-") { self.index += 1 }
            guard let next = self.peek(), Self.isDigit(next) else {
                throw self.error("invalid number: expected a digit in the exponent")
            }
            self.skipDigits()
        }
        return String(decoding: self.bytes[start..<self.index], as: UTF8.self)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func skipDigits() {
        while let byte = self.peek(), Self.isDigit(byte) { self.index += 1 }
    }

    private mutating func parseString() throws -> String {
        self.index += 1
        var utf8: [UInt8] = []
        while true {
            guard let byte = self.peek() else { throw self.error("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                self.index += 1
                guard let text = String(validating: utf8, as: UTF8.self) else {
                    throw self.error("string is not valid UTF-8")
                }
                return text
            case UInt8(ascii: "\\"):
                self.index += 1
                let scalar = try self.parseEscape()
                utf8.append(contentsOf: Array(String(Character(scalar)).utf8))
            case 0..<0x20:
                throw self.error("control character in string (must be escaped)")
            default:
                utf8.append(byte)
                self.index += 1
            }
        }
    }

    private mutating func parseEscape() throws -> Unicode.Scalar {
        guard let byte = self.peek() else { throw self.error("unterminated string") }
        self.index += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let high = try self.parseHex4()
            if (0xD800..<0xDC00).contains(high) {
                guard self.peek() == UInt8(ascii: "\\"), self.index + 1 < self.bytes.count,
                    self.bytes[self.index + 1] == UInt8(ascii: "u")
                else { throw self.error("unpaired surrogate in \\u escape") }
                self.index += 2
                let low = try self.parseHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw self.error("unpaired surrogate in \\u escape") }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(high) else { throw self.error("unpaired surrogate in \\u escape") }
            return scalar
        default:
            self.index -= 1
            throw self.error("invalid escape sequence")
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = self.peek(), let digit = Self.hexValue(byte) else {
                throw self.error("invalid \\u escape: expected four hex digits")
            }
            value = value << 4 | UInt32(digit)
            self.index += 1
        }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
