import Foundation
import SkyportHTTP2
import SkyportProto
import SkyportRPC
import SkyportTestSupport
import Testing

@testable import StreamHostService

/// The application contract without processes: framing, messages, manifests.
@Suite struct ApplicationContractTests {
    @Test func linesAreSplitAndBounded() throws {
        var framer = LineFramer(maximumLineBytes: 8)
        #expect(try framer.append(Array("ab\ncd".utf8)) == [Array("ab".utf8)])
        #expect(try framer.append(Array("e\n\nfg\n".utf8)) == [Array("cde".utf8), Array("fg".utf8)])
        #expect(throws: LineFramer.LineTooLong.self) { try framer.append(Array("123456789".utf8)) }
        var complete = LineFramer(maximumLineBytes: 8)
        #expect(throws: LineFramer.LineTooLong.self) { try complete.append(Array("123456789\n".utf8)) }
    }

    @Test func applicationMessagesDecode() throws {
        func decode(_ text: String) throws -> AppToHostMessage { try AppToHostMessage(line: Array(text.utf8)) }
        #expect(try decode(#"{"type":"ready"}"#) == .ready)
        #expect(
            try decode(#"{"type":"output","session_id":"s1","data":"aGk="}"#)
                == .output(sessionID: "s1", data: Array("hi".utf8)))
        #expect(
            try decode(#"{"type":"state_saved","session_id":"s1","state":"e30="}"#)
                == .stateSaved(sessionID: "s1", state: Array("{}".utf8)))
        #expect(try decode(#"{"type":"end_session","session_id":"s1"}"#) == .endSession(sessionID: "s1", reason: ""))
        #expect(throws: AppToHostMessage.DecodingError.self) { try decode(#"{"type":"output","session_id":"s1"}"#) }
        #expect(throws: AppToHostMessage.DecodingError.self) { try decode(#"{"type":"dance"}"#) }
        #expect(throws: AppToHostMessage.DecodingError.self) { try decode("[1,2]") }
        #expect(throws: AppToHostMessage.DecodingError.self) {
            try decode(#"{"type":"output","session_id":{"nested":[1]},"data":"aGk="}"#)
        }
        #expect(throws: AppToHostMessage.DecodingError.self) { try decode(#"{"type":7}"#) }
        #expect(
            try decode(#"{"type":"end_session","session_id":"s1","reason":"done","extra":{"x":[1,null]}}"#)
                == .endSession(sessionID: "s1", reason: "done"))
        #expect(throws: AppToHostMessage.DecodingError.self) {
            try decode(#"{"type":"output","session_id":"s1","data":"not base64!"}"#)
        }
    }

    @Test func hostMessagesEncodeAsOneJSONLine() throws {
        let line = HostToAppMessage.sessionAttached(sessionID: "s1", userID: "u1", state: nil).encodedLine()
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.dropLast().allSatisfy { $0 != UInt8(ascii: "\n") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(object["type"] as? String == "session_attached")
        #expect(object["state"] is NSNull)
        let notice = HostToAppMessage.terminationNotice(deadlineUnixMilliseconds: 1_700_000_000_123).encodedLine()
        let noticeObject = try #require(try JSONSerialization.jsonObject(with: Data(notice)) as? [String: Any])
        #expect(noticeObject["deadline_unix_ms"] as? Int64 == 1_700_000_000_123)
        // Every character survives: quotes, backslashes, control characters, non-ASCII.
        let reason = "say \"hi\" \\ tab\t line\n bell\u{07} é 🎮"
        let detached = HostToAppMessage.sessionDetached(sessionID: "s\"1", reason: reason).encodedLine()
        #expect(detached.dropLast().allSatisfy { $0 != UInt8(ascii: "\n") })
        let detachedObject = try #require(
            try JSONSerialization.jsonObject(with: Data(detached)) as? [String: Any])
        #expect(detachedObject["reason"] as? String == reason)
        #expect(detachedObject["session_id"] as? String == "s\"1")
        #expect(detachedObject["type"] as? String == "session_detached")
        let attached = HostToAppMessage.sessionAttached(sessionID: "s1", userID: "u1", state: [0, 255]).encodedLine()
        #expect(
            String(decoding: attached, as: UTF8.self)
                == #"{"session_id":"s1","state":"AP8=","type":"session_attached","user_id":"u1"}"# + "\n")
    }

    @Test func manifestsAreCheckedWithTheirPathInTheError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pk-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let catalog = PackageCatalog(directory: directory)
        func install(_ version: String, _ manifest: String) throws {
            try FileManager.default.createDirectory(
                atPath: "\(directory)/app/\(version)", withIntermediateDirectories: true)
            try manifest.write(toFile: "\(directory)/app/\(version)/manifest.json", atomically: true, encoding: .utf8)
        }
        try install("good", #"{"command":"sh","arguments":["-c","true"],"profile":{"sessions_per_instance":3}}"#)
        try install("broken", "{not json")
        try install("nocommand", #"{"arguments":[]}"#)
        try install("missing", #"{"command":"./not-here"}"#)
        try install("huge", #"{"command":"sh","arguments":["\#(String(repeating: "x", count: 70_000))"]}"#)

        let good = try catalog.load(appID: "app", versionID: "good")
        #expect(good.executable.hasSuffix("/sh"))
        #expect(good.manifest.profile.sessionsPerInstance == 3)
        #expect(good.manifest.profile.memoryMiB == 256)
        #expect(catalog.installed().map { "\($0.appID)/\($0.versionID)" }.contains("app/good"))

        func problem(_ version: String) -> String? {
            do {
                _ = try catalog.load(appID: "app", versionID: version)
                return nil
            } catch {
                guard case .failedPrecondition(let message) = error else { return "\(error)" }
                #expect(message.contains("\(directory)/app/\(version)/manifest.json"))
                return message
            }
        }
        #expect(problem("broken")?.contains("not a JSON object") == true)
        #expect(problem("nocommand")?.contains("missing field \"command\"") == true)
        #expect(problem("missing")?.contains("not an executable file") == true)
        #expect(problem("huge")?.contains("larger than 64 KiB") == true)
        #expect(problem("absent")?.contains("not installed") == true)
        #expect(throws: StreamHostError.self) { try catalog.load(appID: "../etc", versionID: "good") }
    }
}
