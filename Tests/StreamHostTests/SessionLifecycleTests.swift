import Foundation
import SkyportProto
import SkyportRPC
import SkyportTestSupport
import StreamHostService
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The code an RPC failed with, or `nil` when it succeeded.
func statusCode(_ body: () async throws -> Void) async -> Status.Code? {
    do {
        try await body()
        return nil
    } catch let error as RPCError {
        return error.status.code
    } catch {
        Issue.record("not an RPCError: \(error)")
        return nil
    }
}

/// Sessions end to end on a real stream host: the demo application as a real child process, clients over
/// real TLS on the client port, events to a fake host management over real mutual TLS.
@Suite(.serialized) struct SessionLifecycleTests {
    @Test func echoesWithCountsAndHandsSavedStateToTheNextSession() async throws {
        let host = try await StreamHostFixture()
        let (client, transport) = try host.sessionClient()

        let first = try await host.provision("sess-1")
        #expect(first.launched)
        #expect(first.clientAddress == "127.0.0.1:\(host.clientPort)")
        #expect(first.sessionCredential.count == 32)
        #expect(!first.hostId.isEmpty)
        let welcome = try await client.attach { call in
            var conversation = SessionConversation(call)
            try await call.write(SessionConversation.hello("sess-1", first.sessionCredential))
            guard case .welcome(let welcome)? = try await conversation.next() else {
                Issue.record("no welcome")
                return Skyport_Streamhost_V1_Welcome()
            }
            #expect(try await conversation.echo("hello") == "echo hello (input #1)")
            #expect(try await conversation.echo("again") == "echo again (input #2)")
            call.finishWriting()
            guard case .ended(let ended)? = try await conversation.next() else {
                Issue.record("no ended")
                return welcome
            }
            #expect(ended.reason == "client left")
            #expect(try await conversation.next() == nil)
            return welcome
        }
        #expect(welcome.instanceId == first.instanceId)
        #expect(welcome.appId == "demo")
        #expect(!welcome.resumedState)

        let ended = try await host.awaitEvent(.sessionEnded, session: "sess-1")
        #expect(ended.reason == "client left")
        #expect(ended.savedCount == 2)

        // The next session of the user gets the state and counts on; it shares the running instance.
        let second = try await host.provision("sess-2", priorState: ended.savedState)
        #expect(!second.launched)
        #expect(second.instanceId == first.instanceId)
        try await client.attach { call in
            var conversation = SessionConversation(call)
            try await call.write(SessionConversation.hello("sess-2", second.sessionCredential))
            guard case .welcome(let welcome)? = try await conversation.next() else {
                Issue.record("no welcome")
                return
            }
            #expect(welcome.resumedState)
            #expect(try await conversation.echo("third") == "echo third (input #3)")
            call.finishWriting()
            while try await conversation.next() != nil {}
        }
        #expect(try await host.awaitEvent(.sessionEnded, session: "sess-2").savedCount == 3)

        // Events arrive in the order they happened, with unique ids.
        let kinds = host.hostmgr.events.map(\.kind)
        #expect(
            kinds == [.instanceStarted, .sessionConnected, .sessionEnded, .sessionConnected, .sessionEnded])
        #expect(Set(host.hostmgr.events.map(\.eventId)).count == kinds.count)
        // Registration lists the installed package; heartbeats report the instance.
        let registration = try #require(host.hostmgr.state.withLock { $0.registrations.first })
        #expect(registration.packages.map { "\($0.appId)/\($0.versionId)" } == ["demo/v1"])
        #expect(
            await eventually {
                host.hostmgr.state.withLock { state in
                    state.heartbeats.contains { $0.instances.contains { $0.instanceId == first.instanceId } }
                }
            })
        await transport.close()
        try await host.stop()
    }

    @Test func aWrongCredentialOrFirstMessageIsUnauthenticated() async throws {
        let host = try await StreamHostFixture()
        let (client, transport) = try host.sessionClient()
        let provisioned = try await host.provision("sess-auth")

        func attempt(_ first: Skyport_Streamhost_V1_ClientMessage) async -> Status.Code? {
            await statusCode {
                try await client.attach { call in
                    try await call.write(first)
                    var responses = call.responses.makeAsyncIterator()
                    _ = try await responses.next()
                }
            }
        }
        var wrong = provisioned.sessionCredential
        wrong[0] ^= 0xFF
        #expect(await attempt(SessionConversation.hello("sess-auth", wrong)) == .unauthenticated)
        #expect(
            await attempt(SessionConversation.hello("sess-nope", provisioned.sessionCredential)) == .unauthenticated)
        #expect(await attempt(SessionConversation.input("let me in")) == .unauthenticated)

        // The session itself is unharmed: the right credential still connects, once.
        try await client.attach { call in
            var conversation = SessionConversation(call)
            try await call.write(SessionConversation.hello("sess-auth", provisioned.sessionCredential))
            guard case .welcome? = try await conversation.next() else {
                Issue.record("no welcome")
                return
            }
            #expect(
                await attempt(SessionConversation.hello("sess-auth", provisioned.sessionCredential)) == .unauthenticated
            )
            // An input over 64 KiB breaks the protocol.
            try await call.write(SessionConversation.input(String(repeating: "x", count: 64 * 1024 + 1)))
            let code = await statusCode { while try await conversation.next() != nil {} }
            #expect(code == .invalidArgument)
        }
        await transport.close()
        try await host.stop()
    }

    @Test func anUnconnectedSessionIsReleasedAtItsDeadline() async throws {
        let host = try await StreamHostFixture(flags: ["--slots", "1"])
        // Long enough for the next provision's round trip on a busy machine.
        let provisioned = try await host.provision("sess-late", connectWithin: 3)
        // The only slot is taken.
        #expect(await statusCode { _ = try await host.provision("sess-other") } == .resourceExhausted)

        let ended = try await host.awaitEvent(.sessionEnded, session: "sess-late")
        #expect(ended.reason == "not connected by deadline")
        #expect(ended.savedCount == 0)
        #expect(host.events(.sessionConnected).isEmpty)
        // The seat and slot are free again, and the late client is refused.
        let next = try await host.provision("sess-other")
        #expect(next.instanceId == provisioned.instanceId)
        let (client, transport) = try host.sessionClient()
        let code = await statusCode {
            try await client.attach { call in
                try await call.write(SessionConversation.hello("sess-late", provisioned.sessionCredential))
                var responses = call.responses.makeAsyncIterator()
                _ = try await responses.next()
            }
        }
        #expect(code == .unauthenticated)
        await transport.close()
        try await host.stop()
    }

    @Test func whatTheHostCannotCarryIsResourceExhausted() async throws {
        let host = try await StreamHostFixture(flags: ["--memory-mib", "100", "--gpu-score", "5"])
        let gpu = await statusCode { _ = try await host.provision("sess-gpu", minGPUScore: 50) }
        #expect(gpu == .resourceExhausted)
        let memory = await statusCode { _ = try await host.provision("sess-mem", memoryMiB: 512) }
        #expect(memory == .resourceExhausted)
        // The manifest's 64 MiB fit once; a second instance does not.
        _ = try await host.provision("sess-a", seats: 1)
        #expect(await statusCode { _ = try await host.provision("sess-b", seats: 1) } == .resourceExhausted)
        let status = try await host.control.getStatus(.init())
        #expect(status.freeMemoryMib == 36)
        #expect(status.freeSlots == 3)
        // A version that is not installed.
        var request = Skyport_Streamhost_V1_StartInstanceRequest()
        request.app = StreamHostFixture.demoSpec()
        request.app?.versionId = "v9"
        do {
            _ = try await host.control.startInstance(request)
            Issue.record("a missing package started")
        } catch let error as RPCError {
            #expect(error.status.code == .failedPrecondition)
            #expect(error.status.message.contains("packages/demo/v9/manifest.json"))
        }
        try await host.stop()
    }

    @Test func sessionsShareAnInstanceUntilItsSeatsAreFull() async throws {
        let host = try await StreamHostFixture()
        let first = try await host.provision("sess-1", user: "ann", seats: 2)
        let second = try await host.provision("sess-2", user: "bob", seats: 2)
        let third = try await host.provision("sess-3", user: "cid", seats: 2)
        #expect(first.launched && !second.launched && third.launched)
        // The second took a seat on a running instance: it did not wait for a launch.
        #expect(!first.joinedStarting && !second.joinedStarting && !third.joinedStarting)
        #expect(second.instanceId == first.instanceId)
        #expect(third.instanceId != first.instanceId)
        // The full instance takes no one else when asked by id.
        let full = await statusCode { _ = try await host.provision("sess-4", seats: 2, instanceID: first.instanceId) }
        #expect(full == .failedPrecondition)
        let missing = await statusCode { _ = try await host.provision("sess-5", instanceID: "inst-nope") }
        #expect(missing == .notFound)

        let instances = try await host.instances()
        #expect(instances.count == 2)
        let shared = try #require(instances.first { $0.instanceId == first.instanceId })
        #expect(shared.sessionIds == ["sess-1", "sess-2"])
        #expect(shared.state == "active")
        #expect(shared.seats == 2)

        // Both sessions talk to the one process, each with its own count.
        let (client, transport) = try host.sessionClient()
        async let one: String = client.attach { call in
            var conversation = SessionConversation(call)
            try await call.write(SessionConversation.hello("sess-1", first.sessionCredential))
            _ = try await conversation.next()
            _ = try await conversation.echo("a")
            return try await conversation.echo("b")
        }
        async let two: String = client.attach { call in
            var conversation = SessionConversation(call)
            try await call.write(SessionConversation.hello("sess-2", second.sessionCredential))
            _ = try await conversation.next()
            return try await conversation.echo("z")
        }
        #expect(try await one == "echo b (input #2)")
        #expect(try await two == "echo z (input #1)")
        await transport.close()
        try await host.stop()
    }

    @Test func concurrentFirstSessionsWaitForOneLaunchInsteadOfEachStartingAnInstance() async throws {
        let host = try await StreamHostFixture(flags: ["--slots", "8"])
        // Five sessions at once for a 3-seat application that runs nowhere yet: one launch takes three of
        // them, and one more launch the other two.
        let placed = try await withThrowingTaskGroup(of: Skyport_Streamhost_V1_ProvisionResponse.self) { group in
            for index in 1...5 {
                group.addTask { try await host.provision("sess-herd-\(index)", user: "u\(index)", seats: 3) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(placed.filter(\.launched).count == 2)
        // Those that waited for another session's launch say so; a launch never does.
        let waited = placed.filter(\.joinedStarting)
        #expect(!waited.isEmpty)
        #expect(waited.allSatisfy { !$0.launched })
        let byInstance = Dictionary(grouping: placed, by: \.instanceId).mapValues(\.count)
        #expect(byInstance.values.sorted() == [2, 3])
        let instances = try await host.instances()
        #expect(instances.count == 2)
        #expect(instances.allSatisfy { $0.sessionIds.count <= 3 })
        try await host.stop()
    }

    @Test func terminateNoticesTheClientAndKeepsTheState() async throws {
        let host = try await StreamHostFixture()
        let provisioned = try await host.provision("sess-t")
        let (client, transport) = try host.sessionClient()
        try await client.attach { call in
            var conversation = SessionConversation(call)
            try await call.write(SessionConversation.hello("sess-t", provisioned.sessionCredential))
            _ = try await conversation.next()
            #expect(try await conversation.echo("one") == "echo one (input #1)")

            var stop = Skyport_Streamhost_V1_StopInstanceRequest()
            stop.instanceId = provisioned.instanceId
            stop.terminate = true
            stop.noticeSeconds = 3
            let stopping = try await host.control.stopInstance(stop)
            #expect(stopping.state == "stopping")

            guard case .notice(let notice)? = try await conversation.next() else {
                Issue.record("no notice")
                return
            }
            #expect(notice.reason == "terminated")
            #expect(notice.deadlineUnixMs > Int64(Date().timeIntervalSince1970 * 1000))
            guard case .ended(let ended)? = try await conversation.next() else {
                Issue.record("no ended")
                return
            }
            #expect(ended.reason == "terminated")
        }
        let ended = try await host.awaitEvent(.sessionEnded, session: "sess-t")
        #expect(ended.reason == "terminated")
        #expect(ended.savedCount == 1)
        let instanceEnded = try await host.awaitEvent(.instanceEnded)
        #expect(instanceEnded.instanceId == provisioned.instanceId)
        #expect(try await host.instances().isEmpty)
        await transport.close()
        try await host.stop()
    }

    @Test func aDrainedInstanceStopsAfterItsLastSession() async throws {
        let host = try await StreamHostFixture()
        let provisioned = try await host.provision("sess-d", seats: 2)
        var drain = Skyport_Streamhost_V1_StopInstanceRequest()
        drain.instanceId = provisioned.instanceId
        #expect(try await host.control.stopInstance(drain).state == "draining")
        let refused = await statusCode {
            _ = try await host.provision("sess-e", seats: 2, instanceID: provisioned.instanceId)
        }
        #expect(refused == .failedPrecondition)
        // Without an instance id, a new session gets a new instance rather than the draining one.
        let elsewhere = try await host.provision("sess-f", seats: 2)
        #expect(elsewhere.instanceId != provisioned.instanceId)

        let (client, transport) = try host.sessionClient()
        try await client.attach { call in
            var conversation = SessionConversation(call)
            try await call.write(SessionConversation.hello("sess-d", provisioned.sessionCredential))
            _ = try await conversation.next()
            #expect(try await conversation.echo("last") == "echo last (input #1)")
            call.finishWriting()
            while try await conversation.next() != nil {}
        }
        #expect(try await host.awaitEvent(.sessionEnded, session: "sess-d").savedCount == 1)
        let instanceEnded = try await host.awaitEvent(.instanceEnded)
        #expect(instanceEnded.instanceId == provisioned.instanceId)
        #expect(try await host.instances().map(\.instanceId) == [elsewhere.instanceId])
        await transport.close()
        try await host.stop()
    }

    @Test func aCrashEndsTheInstancesSessions() async throws {
        let host = try await StreamHostFixture()
        let provisioned = try await host.provision("sess-c")
        let pid = try #require(try await host.instances().first?.pid)
        let (client, transport) = try host.sessionClient()
        try await client.attach { call in
            var conversation = SessionConversation(call)
            try await call.write(SessionConversation.hello("sess-c", provisioned.sessionCredential))
            _ = try await conversation.next()
            #expect(kill(pid, SIGKILL) == 0)
            guard case .ended(let ended)? = try await conversation.next() else {
                Issue.record("no ended")
                return
            }
            #expect(ended.reason == "killed by signal 9")
        }
        let ended = try await host.awaitEvent(.sessionEnded, session: "sess-c")
        #expect(ended.reason == "killed by signal 9")
        #expect(!ended.stateSaved)
        let instanceEnded = try await host.awaitEvent(.instanceEnded)
        #expect(instanceEnded.reason == "killed by signal 9")
        #expect(try await host.instances().isEmpty)
        #expect(try await host.control.getStatus(.init()).freeSlots == 4)
        await transport.close()
        try await host.stop()
    }

    @Test func eventsArriveInOrderAfterHostManagementWasDown() async throws {
        let host = try await StreamHostFixture(hostmgrAvailable: false)
        let (client, transport) = try host.sessionClient()
        for index in 1...3 {
            let provisioned = try await host.provision("sess-\(index)")
            try await client.attach { call in
                var conversation = SessionConversation(call)
                try await call.write(SessionConversation.hello("sess-\(index)", provisioned.sessionCredential))
                _ = try await conversation.next()
                _ = try await conversation.echo("x")
                call.finishWriting()
                while try await conversation.next() != nil {}
            }
        }
        // The host kept trying while host management was down, and nothing got through.
        #expect(await eventually(timeout: .seconds(10)) { host.hostmgr.state.withLock { $0.refusedReports >= 2 } })
        #expect(host.hostmgr.events.isEmpty)

        host.hostmgr.setAvailable(true)
        #expect(await eventually(timeout: .seconds(20)) { host.hostmgr.events.count == 7 })
        let events = host.hostmgr.events
        #expect(
            events.map { "\($0.kind)/\($0.sessionId)" } == [
                "instanceStarted/", "sessionConnected/sess-1", "sessionEnded/sess-1", "sessionConnected/sess-2",
                "sessionEnded/sess-2", "sessionConnected/sess-3", "sessionEnded/sess-3",
            ])
        let sequences = events.compactMap { Int($0.eventId.split(separator: "-").last ?? "") }
        #expect(sequences == sequences.sorted() && Set(sequences).count == 7)
        #expect(events.allSatisfy { $0.eventId.hasPrefix(host.hostmgr.state.withLock { $0.registrations[0].hostId }) })
        await transport.close()
        try await host.stop()
    }

    @Test func noChildOutlivesAGracefulStop() async throws {
        let host = try await StreamHostFixture()
        let provisioned = try await host.provision("sess-s")
        let pid = try #require(try await host.instances().first?.pid)
        #expect(processExists(pid))
        let (client, transport) = try host.sessionClient()
        // The stop waits until the application has answered once, so the notice cannot overtake the echo.
        let (echoed, echoedSignal) = AsyncStream.makeStream(of: Void.self)
        let conversation = Task {
            defer { echoedSignal.finish() }  // also when the conversation fails before the echo
            return try await client.attach { call in
                var conversation = SessionConversation(call)
                try await call.write(SessionConversation.hello("sess-s", provisioned.sessionCredential))
                _ = try await conversation.next()
                _ = try await conversation.echo("bye")
                echoedSignal.finish()
                var received: [Skyport_Streamhost_V1_ServerMessage.OneOf_Kind] = []
                while let next = try await conversation.next() { received.append(next) }
                return received
            }
        }
        for await _ in echoed {}
        try await host.stop()
        #expect(!processExists(pid))
        let received = try await conversation.value
        #expect(received.contains { if case .notice = $0 { true } else { false } })
        #expect(received.last == .ended(.with(reason: "host shutting down")))
        await transport.close()
    }
}

extension Skyport_Streamhost_V1_Ended {
    static func with(reason: String) -> Self {
        var ended = Self()
        ended.reason = reason
        return ended
    }
}
