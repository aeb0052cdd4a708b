public import SkyportProto
public import SkyportRPC
import SkyportSecurity

/// `skyport.streamhost.v1.SessionChannel` on the host's client port: a client proves with its first
/// message that it holds a provisioned session, then its inputs go to the application and the
/// application's outputs, termination notices and the session's end come back.
public struct SessionChannelService: Skyport_Streamhost_V1_SessionChannelProvider {
    /// The largest input a client may send.
    static let maximumInputBytes = 64 * 1024

    let runtime: SessionRuntime

    init(runtime: SessionRuntime) {
        self.runtime = runtime
    }

    /// Who may call what on the client port: Attach, authenticated by its first message.
    static var accessPolicy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.makePublic(Skyport_Streamhost_V1_SessionChannelMethods.attach, authentication: .handler)
        return policy
    }

    /// How long a client has to send its first message after opening the channel.
    static let helloTimeout: Duration = .seconds(10)

    /// The session's control channel.
    public func attach(
        _ requests: RequestStream<Skyport_Streamhost_V1_ClientMessage>,
        responses: ResponseWriter<Skyport_Streamhost_V1_ServerMessage>, context: ServerContext
    ) async throws {
        // A client that sends something else first, or nothing within `helloTimeout`, learns no more than a
        // wrong credential.
        let first = try await withThrowingTaskGroup(of: Skyport_Streamhost_V1_ClientMessage?.self) { group in
            group.addTask {
                var iterator = requests.makeAsyncIterator()
                return try await iterator.next()
            }
            group.addTask {
                try await Task.sleep(for: Self.helloTimeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        guard case .hello(let hello)? = first?.kind else {
            throw StreamHostError.unauthenticated.rpcError
        }
        let sessionID = hello.sessionId
        let connected: (welcome: Skyport_Streamhost_V1_Welcome, feed: ClientFeed)
        do {
            connected = try await self.runtime.connect(sessionID: sessionID, credential: hello.sessionCredential)
        } catch {
            throw error.rpcError
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The request stream's iterator only asks the call for the next message, so a second one
            // carries on after the hello.
            group.addTask { try await self.forwardInputs(requests, sessionID: sessionID) }
            try await responses.write(.with(.welcome(connected.welcome)))
            for await item in connected.feed.items {
                switch item {
                case .output(let data):
                    try await responses.write(.with(.output(data)))
                case .notice(let deadline, let reason):
                    var notice = Skyport_Streamhost_V1_TerminationNotice()
                    notice.deadlineUnixMs = deadline
                    notice.reason = reason
                    try await responses.write(.with(.notice(notice)))
                }
            }
            var ended = Skyport_Streamhost_V1_Ended()
            ended.reason = connected.feed.endReason ?? "session ended"
            try await responses.write(.with(.ended(ended)))
            // The session is over: whatever the client still sends is moot.
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    /// Client inputs to the application until the client closes its side; then the session detaches.
    private func forwardInputs(
        _ requests: RequestStream<Skyport_Streamhost_V1_ClientMessage>, sessionID: String
    ) async throws {
        var reason = "client left"
        do {
            for try await message in requests {
                guard case .input(let data)? = message.kind else {
                    reason = "client broke the protocol"
                    throw RPCError(code: .invalidArgument, message: "after hello, a client sends only inputs")
                }
                guard data.count <= Self.maximumInputBytes else {
                    reason = "client broke the protocol"
                    throw RPCError(code: .invalidArgument, message: "an input is at most 64 KiB")
                }
                await self.runtime.input(sessionID: sessionID, data: data)
            }
        } catch let error as RPCError where error.status.code == .invalidArgument {
            await self.runtime.clientLeft(sessionID: sessionID, reason: reason)
            throw error
        } catch {
            // The client broke off, or the session ended and this reader was cancelled.
            await self.runtime.clientLeft(sessionID: sessionID, reason: reason)
            return
        }
        await self.runtime.clientLeft(sessionID: sessionID, reason: reason)
    }
}

extension Skyport_Streamhost_V1_ServerMessage {
    fileprivate static func with(_ kind: OneOf_Kind) -> Self {
        var message = Self()
        message.kind = kind
        return message
    }
}
