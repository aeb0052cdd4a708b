import Foundation
import Logging
import SkyportConfig
import SkyportHTTP2
import SkyportProto
import SkyportRPC
import SkyportSecurity
import SkyportService
import StreamHostService
import SkyportTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real stream host (the whole service runtime) with the demo application installed, a fake host
/// management over mutual TLS, and clients: host management's (mTLS) and session clients on the client
/// port (TLS, no certificate).
final class StreamHostFixture: Sendable {
    let directory: String
    let hostmgr: FakeHostManager
    let hostmgrServer: HTTP2Server
    let runtime: ServiceRuntime
    let run: Task<Void, any Error>
    let port: Int
    let clientPort: Int
    let control: Skyport_Streamhost_V1_StreamHostClient
    let controlTransport: HTTP2ClientTransport

    var tls: String { self.directory + "/tls" }

    /// The demo application's directory in the repository.
    static let demoApp = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Services/StreamHost/DemoApp").standardizedFileURL.path

    /// Starts everything. `flags` are extra stream host flags (capacity, ...).
    init(flags: [String] = [], hostmgrAvailable: Bool = true) async throws {
        // Short: host sockets live under the data directory, and Unix socket paths are limited to 107 bytes.
        self.directory = "/tmp/sh-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try DevCertificateDirectory(directory: self.directory + "/tls").generate(
            services: ["streamhost", "hostmgr", "skyport"])
        let packages = "\(self.directory)/packages/demo/v1"
        try FileManager.default.createDirectory(atPath: packages, withIntermediateDirectories: true)
        for file in ["manifest.json", "demo_app.py"] {
            try FileManager.default.copyItem(atPath: "\(Self.demoApp)/\(file)", toPath: "\(packages)/\(file)")
        }

        self.hostmgr = FakeHostManager()
        self.hostmgr.setAvailable(hostmgrAvailable)
        self.hostmgrServer = try self.hostmgr.makeServer(tlsDirectory: self.directory + "/tls")
        let hostmgrPort = try await self.hostmgrServer.bind(host: "127.0.0.1", port: 0)

        let tls = self.directory + "/tls"
        let arguments =
            [
                "--tls-cert", "\(tls)/streamhost.pem", "--tls-key", "\(tls)/streamhost-key.pem", "--tls-ca",
                "\(tls)/ca.pem", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir",
                "\(self.directory)/data", "--shutdown-grace", "5s", "--hostmgr", "127.0.0.1:\(hostmgrPort)",
                "--advertise-address", "127.0.0.1:7107", "--client-listen", "127.0.0.1:0", "--packages-dir",
                "\(self.directory)/packages", "--instance-stop-grace", "2s", "--heartbeat-interval", "1s",
            ] + flags
        let configuration = try StreamHost.specification.configSchema.parse(arguments: arguments, environment: [:])
        let runtime = try await ServiceRuntime(
            specification: StreamHost.specification, configuration: configuration,
            logger: Logger(label: "streamhost"))
        self.runtime = runtime
        self.run = Task { try await runtime.run() }
        self.port = try await runtime.waitUntilServing()
        self.clientPort = try #require(try await runtime.waitUntilServing(listener: StreamHost.clientListenerName))

        var configurationForHostmgr = HTTP2ClientConfiguration()
        configurationForHostmgr.tls = ClientTLS(
            trustRootsPath: "\(tls)/ca.pem", certificateChainPath: "\(tls)/hostmgr.pem",
            privateKeyPath: "\(tls)/hostmgr-key.pem")
        self.controlTransport = try HTTP2ClientTransport(
            host: "127.0.0.1", port: self.port, configuration: configurationForHostmgr, logger: Logger(label: "test"))
        self.control = Skyport_Streamhost_V1_StreamHostClient(RPCClient(transport: self.controlTransport))
    }

    /// Shuts the host down gracefully and removes everything.
    func stop() async throws {
        await self.controlTransport.close()
        await self.runtime.triggerGracefulShutdown()
        try await self.run.value
        await self.hostmgrServer.shutdown(gracePeriod: .seconds(1))
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// A session client on the client port: TLS trusting the development CA, no client certificate.
    func sessionClient() throws -> (Skyport_Streamhost_V1_SessionChannelClient, HTTP2ClientTransport) {
        var configuration = HTTP2ClientConfiguration()
        configuration.tls = ClientTLS(trustRootsPath: "\(self.tls)/ca.pem")
        let transport = try HTTP2ClientTransport(
            host: "127.0.0.1", port: self.clientPort, configuration: configuration, logger: Logger(label: "client"))
        return (Skyport_Streamhost_V1_SessionChannelClient(RPCClient(transport: transport)), transport)
    }

    /// Provisions `sessionID` of the demo app (optionally with a spec overriding the manifest).
    func provision(
        _ sessionID: String, user: String = "user-1", seats: UInt32 = 0, instanceID: String = "",
        priorState: [UInt8] = [], connectWithin: UInt32 = 0, minGPUScore: UInt32 = 0, memoryMiB: UInt64 = 0
    ) async throws -> Skyport_Streamhost_V1_ProvisionResponse {
        var request = Skyport_Streamhost_V1_ProvisionRequest()
        request.sessionId = sessionID
        request.userId = user
        request.app = Self.demoSpec(seats: seats, minGPUScore: minGPUScore, memoryMiB: memoryMiB)
        request.instanceId = instanceID
        request.priorState = priorState
        request.connectWithinSeconds = connectWithin
        return try await self.control.provision(request)
    }

    static func demoSpec(seats: UInt32 = 0, minGPUScore: UInt32 = 0, memoryMiB: UInt64 = 0)
        -> Skyport_Streamhost_V1_AppSpec
    {
        var spec = Skyport_Streamhost_V1_AppSpec()
        spec.appId = "demo"
        spec.versionId = "v1"
        spec.sessionsPerInstance = seats
        spec.minGpuScore = minGPUScore
        spec.memoryMib = memoryMiB
        return spec
    }

    func instances() async throws -> [Skyport_Streamhost_V1_Instance] {
        try await self.control.listInstances(.init()).instances
    }

    /// The events host management accepted of `kind` (for `sessionID`, when given).
    func events(_ kind: Skyport_Hostmgr_V1_HostEvent.Kind, session sessionID: String? = nil)
        -> [Skyport_Hostmgr_V1_HostEvent]
    {
        self.hostmgr.events.filter { $0.kind == kind && (sessionID == nil || $0.sessionId == sessionID) }
    }

    /// Waits (up to `timeout`) for an accepted event of `kind` for `sessionID`.
    func awaitEvent(
        _ kind: Skyport_Hostmgr_V1_HostEvent.Kind, session sessionID: String? = nil, timeout: Duration = .seconds(15)
    ) async throws -> Skyport_Hostmgr_V1_HostEvent {
        _ = await eventually(timeout: timeout) { !self.events(kind, session: sessionID).isEmpty }
        return try #require(self.events(kind, session: sessionID).first, "no \(kind) event for \(sessionID ?? "-")")
    }
}

/// One connected session: a bidirectional Attach call driven from the test.
struct SessionConversation {
    let call: BidirectionalCall<Skyport_Streamhost_V1_ClientMessage, Skyport_Streamhost_V1_ServerMessage>
    var responses: ResponseStream<Skyport_Streamhost_V1_ServerMessage>.AsyncIterator

    init(_ call: BidirectionalCall<Skyport_Streamhost_V1_ClientMessage, Skyport_Streamhost_V1_ServerMessage>) {
        self.call = call
        self.responses = call.responses.makeAsyncIterator()
    }

    static func hello(_ sessionID: String, _ credential: [UInt8]) -> Skyport_Streamhost_V1_ClientMessage {
        var hello = Skyport_Streamhost_V1_Hello()
        hello.sessionId = sessionID
        hello.sessionCredential = credential
        var message = Skyport_Streamhost_V1_ClientMessage()
        message.kind = .hello(hello)
        return message
    }

    static func input(_ text: String) -> Skyport_Streamhost_V1_ClientMessage {
        var message = Skyport_Streamhost_V1_ClientMessage()
        message.kind = .input(Array(text.utf8))
        return message
    }

    mutating func next() async throws -> Skyport_Streamhost_V1_ServerMessage.OneOf_Kind? {
        try await self.responses.next()?.kind
    }

    /// Sends `text` and returns the output that comes back.
    mutating func echo(_ text: String) async throws -> String {
        try await self.call.write(Self.input(text))
        guard case .output(let bytes)? = try await self.next() else {
            Issue.record("no output for \(text)")
            return ""
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Skyport_Hostmgr_V1_HostEvent {
    /// The demo app's saved count.
    var savedCount: Int? {
        guard self.stateSaved,
            let object = try? JSONSerialization.jsonObject(with: Data(self.savedState)) as? [String: Any]
        else { return nil }
        return object["count"] as? Int
    }
}

/// Whether process `pid` exists.
func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}
