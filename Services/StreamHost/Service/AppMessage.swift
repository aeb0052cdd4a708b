import Foundation
import SkyportRPC

/// A message of the application contract, host to application: one JSON object per line on the
/// instance's host socket (see the README, "The application contract").
enum HostToAppMessage: Sendable, Equatable {
    /// A session is now the application's; `state` is what it saved at the user's previous session.
    case sessionAttached(sessionID: String, userID: String, state: [UInt8]?)
    /// One input of the session's client.
    case input(sessionID: String, data: [UInt8])
    /// The session is over for the application: save its state (`state_saved`), then forget it.
    case sessionDetached(sessionID: String, reason: String)
    /// Save every session's state and exit before the deadline; the host kills the instance then.
    case terminationNotice(deadlineUnixMilliseconds: Int64)

    /// The message as one line, newline included: a JSON object with its keys sorted, written by hand
    /// (Foundation's `JSONSerialization` was a visible share of a busy host's time).
    func encodedLine() -> [UInt8] {
        var line = JSONLine()
        switch self {
        case .sessionAttached(let sessionID, let userID, let state):
            line.field("session_id", sessionID)
            if let state { line.field("state", Base64.encode(state)) } else { line.nullField("state") }
            line.field("type", "session_attached")
            line.field("user_id", userID)
        case .input(let sessionID, let data):
            line.field("data", Base64.encode(data))
            line.field("session_id", sessionID)
            line.field("type", "input")
        case .sessionDetached(let sessionID, let reason):
            line.field("reason", reason)
            line.field("session_id", sessionID)
            line.field("type", "session_detached")
        case .terminationNotice(let deadline):
            line.field("deadline_unix_ms", deadline)
            line.field("type", "termination_notice")
        }
        return line.finished()
    }
}

/// Writes one JSON object of string, integer and null fields as a line (the caller orders the keys).
struct JSONLine {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]

    mutating func field(_ key: String, _ value: String) {
        self.key(key)
        self.string(value)
    }

    mutating func field(_ key: String, _ value: Int64) {
        self.key(key)
        self.bytes.append(contentsOf: String(value).utf8)
    }

    mutating func nullField(_ key: String) {
        self.key(key)
        self.bytes.append(contentsOf: "null".utf8)
    }

    /// The object, closed, with its newline.
    func finished() -> [UInt8] {
        self.bytes + [UInt8(ascii: "}"), UInt8(ascii: "\n")]
    }

    private mutating func key(_ key: String) {
        if self.bytes.count > 1 { self.bytes.append(UInt8(ascii: ",")) }
        self.string(key)
        self.bytes.append(UInt8(ascii: ":"))
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\u00XX`, everything else as UTF-8.
    private mutating func string(_ value: String) {
        let hex = Array("0123456789abcdef".utf8)
        self.bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                self.bytes.append(UInt8(ascii: "\\"))
                self.bytes.append(byte)
            case 0..<0x20:
                self.bytes.append(contentsOf: "\\u00".utf8)
                self.bytes.append(hex[Int(byte >> 4)])
                self.bytes.append(hex[Int(byte & 0x0F)])
            default:
                self.bytes.append(byte)
            }
        }
        self.bytes.append(UInt8(ascii: "\""))
    }
}

/// A message of the application contract, application to host.
enum AppToHostMessage: Sendable, Equatable {
    /// The application accepts sessions.
    case ready
    /// One output for a session's client.
    case output(sessionID: String, data: [UInt8])
    /// A session's state, to hand back at the user's next session.
    case stateSaved(sessionID: String, state: [UInt8])
    /// The application ends a session itself.
    case endSession(sessionID: String, reason: String)

    /// Why a line is not a message the host understands (logged; the line is skipped).
    struct DecodingError: Error, Sendable, Equatable, CustomStringConvertible {
        var description: String
    }

    private static let decoder = JSONDecoder()

    /// Decodes one line (without its newline).
    init(line: [UInt8]) throws(DecodingError) {
        guard let fields = try? Self.decoder.decode(Fields.self, from: Data(line)) else {
            throw DecodingError(description: "not a JSON object")
        }
        let object = fields.values
        func text(_ key: String) throws(DecodingError) -> String {
            guard case .string(let value) = object[key] else {
                throw DecodingError(description: "\"\(key)\" must be a string")
            }
            return value
        }
        func bytes(_ key: String) throws(DecodingError) -> [UInt8] {
            guard let data = Data(base64Encoded: try text(key)) else {
                throw DecodingError(description: "\"\(key)\" must be base64")
            }
            return Array(data)
        }
        switch try text("type") {
        case "ready": self = .ready
        case "output": self = .output(sessionID: try text("session_id"), data: try bytes("data"))
        case "state_saved": self = .stateSaved(sessionID: try text("session_id"), state: try bytes("state"))
        case "end_session":
            self = .endSession(sessionID: try text("session_id"), reason: (try? text("reason")) ?? "")
        case let type: throw DecodingError(description: "unknown type \"\(type)\"")
        }
    }

    /// A line's top-level fields: strings kept, any other value only noted (`JSONDecoder`, which is much
    /// cheaper than `JSONSerialization` here).
    private struct Fields: Decodable {
        enum Value: Decodable {
            case string(String)
            case other

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    self = .string(text)
                } else {
                    self = .other
                }
            }
        }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        var values: [String: Value] = [:]

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                self.values[key.stringValue] = try container.decode(Value.self, forKey: key)
            }
        }
    }
}
