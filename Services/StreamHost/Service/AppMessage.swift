import Foundation

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

    /// The message as one line, newline included.
    func encodedLine() -> [UInt8] {
        var object: [String: Any]
        switch self {
        case .sessionAttached(let sessionID, let userID, let state):
            object = [
                "type": "session_attached", "session_id": sessionID, "user_id": userID,
                "state": state.map { Data($0).base64EncodedString() } ?? NSNull(),
            ]
        case .input(let sessionID, let data):
            object = ["type": "input", "session_id": sessionID, "data": Data(data).base64EncodedString()]
        case .sessionDetached(let sessionID, let reason):
            object = ["type": "session_detached", "session_id": sessionID, "reason": reason]
        case .terminationNotice(let deadline):
            object = ["type": "termination_notice", "deadline_unix_ms": deadline]
        }
        // Only strings, numbers and null: serialization cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Array(data) + [UInt8(ascii: "\n")]
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

    /// Decodes one line (without its newline).
    init(line: [UInt8]) throws(DecodingError) {
        guard let value = try? JSONSerialization.jsonObject(with: Data(line)), let object = value as? [String: Any]
        else { throw DecodingError(description: "not a JSON object") }
        func text(_ key: String) throws(DecodingError) -> String {
            guard let value = object[key] as? String else {
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
        switch object["type"] as? String {
        case "ready": self = .ready
        case "output": self = .output(sessionID: try text("session_id"), data: try bytes("data"))
        case "state_saved": self = .stateSaved(sessionID: try text("session_id"), state: try bytes("state"))
        case "end_session":
            self = .endSession(sessionID: try text("session_id"), reason: (object["reason"] as? String) ?? "")
        case let type?: throw DecodingError(description: "unknown type \"\(type)\"")
        case nil: throw DecodingError(description: "\"type\" must be a string")
        }
    }
}

/// Splits a byte stream into lines, refusing a line longer than `maximumLineBytes` (so an application
/// that never sends a newline cannot grow the host's memory without bound).
struct LineFramer: Sendable {
    /// The line limit of the contract: 2 MiB.
    static let contractLimit = 2 * 1024 * 1024

    /// A line over the limit.
    struct LineTooLong: Error, Sendable {}

    let maximumLineBytes: Int
    private var buffer: [UInt8] = []
    /// Where to resume looking for a newline, so a long line is scanned once, not on every read.
    private var scanned = 0

    init(maximumLineBytes: Int = Self.contractLimit) {
        self.maximumLineBytes = maximumLineBytes
    }

    /// Adds `bytes` and returns the lines they complete (without newlines, empty lines skipped).
    mutating func append(_ bytes: some Collection<UInt8>) throws(LineTooLong) -> [[UInt8]] {
        self.buffer.append(contentsOf: bytes)
        var lines: [[UInt8]] = []
        var start = 0
        var index = self.scanned
        while index < self.buffer.count {
            if self.buffer[index] == UInt8(ascii: "\n") {
                guard index - start <= self.maximumLineBytes else { throw LineTooLong() }
                if index > start { lines.append(Array(self.buffer[start..<index])) }
                start = index + 1
            }
            index += 1
        }
        self.buffer.removeFirst(start)
        self.scanned = self.buffer.count
        guard self.buffer.count <= self.maximumLineBytes else { throw LineTooLong() }
        return lines
    }
}
