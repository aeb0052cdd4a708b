import Foundation
import Testing

@testable import StreamHostService

#if canImport(Glibc)
    import Glibc
#endif

/// The host socket on its own: a plain blocking Unix socket client plays the application.
@Suite struct AppChannelTests {
    /// A blocking client end with a receive timeout, so a missing line fails the test instead of hanging.
    /// Sendable: only its immutable descriptor is shared, and socket calls on it are thread-safe.
    final class AppEnd: Sendable {
        let descriptor: Int32

        init?(path: String) {
            let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: path.utf8)
                raw[path.utf8.count] = 0
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard connected == 0 else {
                Glibc.close(descriptor)
                return nil
            }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            self.descriptor = descriptor
        }

        deinit { Glibc.close(self.descriptor) }

        func send(_ text: String) {
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { Glibc.send(self.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// Reads until `count` newlines arrived or the socket ends; the text read.
        func read(lines count: Int) -> String {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while received.count(where: { $0 == UInt8(ascii: "\n") }) < count {
                let read = buffer.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
                guard read > 0 else { break }
                received += buffer[..<read]
            }
            return String(decoding: received, as: UTF8.self)
        }

        /// Whether the host closed its end: a read returns 0 (not a timeout, not data).
        func seesClose() -> Bool {
            var byte: UInt8 = 0
            return recv(self.descriptor, &byte, 1, 0) == 0
        }
    }

    static func socketPath() -> String { "/tmp/appch-\(UUID().uuidString.prefix(8).lowercased()).sock" }

    @Test func linesFlowBothWaysAndQueuedLinesWaitForTheConnection() async throws {
        let path = Self.socketPath()
        let channel = try AppChannel(path: path)
        // Before the application connects: queued, not lost.
        channel.send(.sessionDetached(sessionID: "ses_1", reason: "early"))
        let app = try #require(AppEnd(path: path))
        channel.send(.input(sessionID: "ses_1", data: Array("hi".utf8)))
        let received = app.read(lines: 2).split(separator: "\n").map(String.init)
        #expect(received.count == 2)
        #expect(received.first?.contains("\"reason\":\"early\"") == true)
        #expect(received.last?.contains("\"type\":\"input\"") == true)
        // Only one application may connect: the socket file is gone once it has.
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(AppEnd(path: path) == nil)

        app.send("{\"type\":\"ready\"}\nnot json\n{\"type\":\"output\",\"session_id\":\"ses_1\",\"data\":\"aGk=\"}\n")
        var events = channel.events.makeAsyncIterator()
        guard case .message(.ready) = await events.next() else { Issue.record("expected ready"); return }
        guard case .badLine = await events.next() else { Issue.record("expected a bad line"); return }
        guard case .message(.output(let sessionID, let data)) = await events.next() else {
            Issue.record("expected output")
            return
        }
        #expect(sessionID == "ses_1" && data == Array("hi".utf8))
        // The application going away ends the events.
        Glibc.shutdown(app.descriptor, Int32(SHUT_RDWR))
        #expect(await events.next() == nil)
        channel.close()
    }

    @Test func closingEndsTheEventsAndTheApplicationSeesItsSocketClose() async throws {
        let unconnectedPath = Self.socketPath()
        let unconnected = try AppChannel(path: unconnectedPath)
        unconnected.close()
        var none = unconnected.events.makeAsyncIterator()
        #expect(await none.next() == nil)
        #expect(!FileManager.default.fileExists(atPath: unconnectedPath))

        let path = Self.socketPath()
        let channel = try AppChannel(path: path)
        let app = try #require(AppEnd(path: path))
        app.send("{\"type\":\"ready\"}\n")
        var events = channel.events.makeAsyncIterator()
        guard case .message(.ready) = await events.next() else { Issue.record("expected ready"); return }
        channel.close()
        #expect(app.seesClose())
        #expect(await events.next() == nil)
    }

    @Test func linesSentWhileTheApplicationConnectsKeepTheirOrder() async throws {
        let path = Self.socketPath()
        let channel = try AppChannel(path: path)
        defer { channel.close() }
        let count = 300
        // Sends race the connection: some are queued, some written directly; none may overtake another.
        let sender = Thread {
            for index in 0..<count {
                channel.send(.sessionDetached(sessionID: "ses_\(index)", reason: "r"))
                usleep(100)  // ~30 ms of sends, the connection made in their midst
            }
        }
        sender.start()
        try await Task.sleep(for: .milliseconds(5))
        let app = try #require(AppEnd(path: path))
        let received = app.read(lines: count).split(separator: "\n")
        #expect(received.count == count)
        for (index, line) in received.enumerated() where !line.contains("\"session_id\":\"ses_\(index)\"") {
            Issue.record("line \(index) out of order: \(line)")
            break
        }
    }

    @Test func aLineOverTheLimitStopsReading() async throws {
        let path = Self.socketPath()
        let channel = try AppChannel(path: path)
        defer { channel.close() }
        let app = try #require(AppEnd(path: path))
        let writer = Thread {
            // More than the 2 MiB limit with no newline; blocks once the host stops reading, until closed.
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
            for _ in 0..<40 {
                let sent = chunk.withUnsafeBytes {
                    Glibc.send(app.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if sent <= 0 { return }
            }
        }
        writer.start()
        var events = channel.events.makeAsyncIterator()
        guard case .lineTooLong = await events.next() else { Issue.record("expected lineTooLong"); return }
        #expect(await events.next() == nil)
        // The host stopped reading but keeps the socket open: the application blocks, it does not see
        // its socket close.
        var byte: UInt8 = 0
        let read = recv(app.descriptor, &byte, 1, Int32(MSG_DONTWAIT))
        #expect(read < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    }

    @Test func aPathTooLongForASocketIsRefused() throws {
        let path = "/tmp/" + String(repeating: "p", count: 120)
        #expect(throws: AppChannel.SetupError.self) { try AppChannel(path: path) }
    }
}
