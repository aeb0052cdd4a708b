import Foundation
import SkyportHTTP2
import SkyportProto
import SkyportRPC

/// The client side of a session, as a thin client runs it: redeem the one-time token at a redemption
/// node, then open the session's control channel to the stream host (TLS; the first message carries the
/// session id and credential), send inputs and read the application's outputs.
struct SessionClient {
    /// The CA that signs the services' certificates (the suite's development CA locally).
    let trustRootsPath: String

    /// What redeeming returned, and how long it took.
    struct Redeemed {
        var response: Skyport_Redemption_V1_RedeemResponse
        var elapsed: Duration
    }

    /// What happened on the control channel.
    struct Conversation {
        var welcome: Skyport_Streamhost_V1_Welcome?
        var outputs: [String] = []
        var notices: [Skyport_Streamhost_V1_TerminationNotice] = []
        var ended: String?
        var connectElapsed: Duration = .zero
    }

    /// Redeems `token` (its text) at `endpoint`. With `clientAddress`, the node is told where the client
    /// is (`x-forwarded-for`, honoured only from its trusted proxies: locally, 127.0.0.1).
    func redeem(_ token: String, at endpoint: String, clientAddress: String?) async throws -> Redeemed {
        let transport = try self.transport(to: endpoint, identity: "redemption")
        defer { Task { await transport.close() } }
        var request = Skyport_Redemption_V1_RedeemRequest()
        request.tokenText = token
        var metadata: Metadata = [:]
        if let clientAddress { metadata.add("x-forwarded-for", clientAddress) }
        let clock = ContinuousClock()
        let start = clock.now
        let response = try await Skyport_Redemption_V1_RedemptionClient(RPCClient(transport: transport)).redeem(
            request, metadata: metadata, options: CallOptions(timeout: .seconds(30)))
        return Redeemed(response: response, elapsed: clock.now - start)
    }

    /// Connects to the session's host, sends `inputs` one by one (each waits for the application's answer:
    /// the contract's demo application answers every input), then leaves and reads until the session
    /// ends. `onOutput` sees each output as it arrives.
    func converse(
        _ redeemed: Skyport_Redemption_V1_RedeemResponse, inputs: [String],
        onOutput: @Sendable (String) -> Void = { _ in }
    ) async throws -> Conversation {
        let transport = try self.transport(to: redeemed.clientAddress, identity: "streamhost")
        defer { Task { await transport.close() } }
        let clock = ContinuousClock()
        let start = clock.now
        let channel = Skyport_Streamhost_V1_SessionChannelClient(RPCClient(transport: transport))
        return try await channel.attach(options: CallOptions(timeout: .seconds(120))) { call in
            var conversation = Conversation()
            var hello = Skyport_Streamhost_V1_Hello()
            hello.sessionId = redeemed.sessionId
            hello.sessionCredential = redeemed.sessionCredential
            var first = Skyport_Streamhost_V1_ClientMessage()
            first.kind = .hello(hello)
            try await call.write(first)
            var responses = call.responses.makeAsyncIterator()
            guard let welcome = try await responses.next(), case .welcome(let message) = welcome.kind else {
                throw RPCError(code: .internal, message: "the host did not welcome the session")
            }
            conversation.welcome = message
            conversation.connectElapsed = clock.now - start
            for input in inputs {
                var message = Skyport_Streamhost_V1_ClientMessage()
                message.kind = .input(Array(input.utf8))
                try await call.write(message)
                while let next = try await responses.next() {
                    if Self.absorb(next, into: &conversation, onOutput: onOutput) { break }
                    if conversation.ended != nil { return conversation }
                }
            }
            call.finishWriting()
            while let next = try await responses.next() {
                _ = Self.absorb(next, into: &conversation, onOutput: onOutput)
            }
            return conversation
        }
    }

    /// Records one server message; true for an output.
    static func absorb(
        _ message: Skyport_Streamhost_V1_ServerMessage, into conversation: inout Conversation,
        onOutput: @Sendable (String) -> Void
    ) -> Bool {
        switch message.kind {
        case .output(let bytes):
            let text = String(decoding: bytes, as: UTF8.self)
            conversation.outputs.append(text)
            onOutput(text)
            return true
        case .notice(let notice):
            conversation.notices.append(notice)
        case .ended(let ended):
            conversation.ended = ended.reason
        case .welcome, .none:
            break
        }
        return false
    }

    /// A TLS connection to `address` whose certificate must name `identity`; no client certificate (these
    /// are the public surfaces).
    func transport(to address: String, identity: String) throws -> HTTP2ClientTransport {
        try OperatorTransport.connectPublic(to: address, identity: identity, trustRootsPath: self.trustRootsPath)
    }

    /// The token and redemption endpoint of a redeem URL (`skyport://host:port/redeem?token=…`), or `nil`
    /// for a bare token.
    static func parseRedeemURL(_ text: String) -> (endpoint: String, token: String)? {
        guard text.hasPrefix("skyport://"), let components = URLComponents(string: text),
            let host = components.host, let port = components.port, components.path == "/redeem",
            let token = components.queryItems?.first(where: { $0.name == "token" })?.value
        else { return nil }
        return ("\(host):\(port)", token)
    }
}
