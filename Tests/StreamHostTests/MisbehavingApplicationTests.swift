import Foundation
import SkyportProto
import SkyportRPC
import SkyportTestSupport
import StreamHostService
import Testing

/// Applications that break the contract: the host stays in charge.
@Suite(.serialized) struct MisbehavingApplicationTests {
    /// Installs `app/v1` running `script` with python3 (the contract's helpers in scope: `send`, `lines`).
    static func install(_ script: String, in host: StreamHostFixture, app: String) throws {
        let directory = "\(host.directory)/packages/\(app)/v1"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let prelude = """
            import base64, json, os, socket, sys, time
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(os.environ["SKYPORT_HOST_SOCKET"])
            lines = conn.makefile("rb")
            def send(message): conn.sendall(json.dumps(message).encode() + b"\\n")

            """
        try (prelude + script).write(toFile: "\(directory)/app.py", atomically: true, encoding: .utf8)
        try #"{"command":"python3","arguments":["app.py"]}"#.write(
            toFile: "\(directory)/manifest.json", atomically: true, encoding: .utf8)
    }

    static func provision(_ host: StreamHostFixture, app: String, session: String) async throws
        -> Skyport_Streamhost_V1_ProvisionResponse
    {
        var request = Skyport_Streamhost_V1_ProvisionRequest()
        request.sessionId = session
        request.userId = "user-1"
        request.app = StreamHostFixture.demoSpec()
        request.app?.appId = app
        return try await host.control.provision(request)
    }

    @Test func anApplicationThatNeverGetsReadyIsKilledAndTheLaunchIsUnavailable() async throws {
        let host = try await StreamHostFixture()
        try Self.install("time.sleep(60)\n", in: host, app: "silent")
        try Self.install("sys.exit(3)\n", in: host, app: "quitter")

        let started = ContinuousClock.now
        do {
            _ = try await Self.provision(host, app: "silent", session: "sess-1")
            Issue.record("a silent application was provisioned")
        } catch let error as RPCError {
            #expect(error.status.code == .unavailable)
            #expect(error.status.message.contains("did not report ready within"))
        }
        #expect(ContinuousClock.now - started >= .seconds(10))
        #expect(await eventuallyAsync { try await host.instances().isEmpty })

        do {
            _ = try await Self.provision(host, app: "quitter", session: "sess-2")
            Issue.record("an application that exited was provisioned")
        } catch let error as RPCError {
            #expect(error.status.code == .unavailable)
            #expect(error.status.message.contains("exited 3 before it was ready"))
        }
        // Nothing is held by the failed launches.
        let status = try await host.control.getStatus(.init())
        #expect(status.freeSlots == 4 && status.freeCpuUnits == 8 && status.freeMemoryMib == 16_384)
        // Neither started, so there is nothing to report as ended.
        #expect(host.events(.instanceStarted).isEmpty && host.events(.instanceEnded).isEmpty)
        try await host.stop()
    }

    @Test func aLineOverTwoMiBEndsTheInstanceAndOversizedStateIsRefused() async throws {
        let host = try await StreamHostFixture()
        try Self.install(
            """
            send({"type": "ready"})
            for line in lines:
                message = json.loads(line)
                if message["type"] == "session_attached":
                    big = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
                    send({"type": "state_saved", "session_id": message["session_id"], "state": big})
                    send({"type": "output", "session_id": message["session_id"], "data": "c2F2ZWQ="})
                if message["type"] == "input":
                    conn.sendall(b"x" * (3 * 1024 * 1024))
            """, in: host, app: "flood")
        let provisioned = try await Self.provision(host, app: "flood", session: "sess-f")
        let (client, transport) = try host.sessionClient()
        try await client.attach { call in
            var conversation = SessionConversation(call)
            try await call.write(SessionConversation.hello("sess-f", provisioned.sessionCredential))
            _ = try await conversation.next()
            // The refused state did not stop the application: its next line arrives.
            guard case .output(let saved)? = try await conversation.next() else {
                Issue.record("no output")
                return
            }
            #expect(saved == Array("saved".utf8))
            try await call.write(SessionConversation.input("flood"))
            guard case .ended(let ended)? = try await conversation.next() else {
                Issue.record("no ended")
                return
            }
            #expect(ended.reason == "killed by signal 9")
        }
        let ended = try await host.awaitEvent(.sessionEnded, session: "sess-f")
        #expect(!ended.stateSaved)
        #expect(try await host.instances().isEmpty)
        await transport.close()
        try await host.stop()
    }
}

/// `eventually` for conditions that need to await.
func eventuallyAsync(timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return (try? await condition()) == true
}
