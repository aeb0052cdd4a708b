import ArgumentParser
import Foundation
import SkyportProto
import SkyportRPC

/// `skyport connect`: the client side of a session (redeem, connect, talk to the application).
struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract:
            "Redeem a session token at the nearest redemption node, connect to the host, send input lines and print the application's output."
    )

    @Argument(help: "The token (skt1.…) or the redeem URL (skyport://host:port/redeem?token=…).")
    var token: String
    @Option(help: "host:port of the redemption node; default: the URL's, else the running suite's.")
    var redemption: String?
    @Option(
        name: .customLong("client-address"),
        help: "Tell the node the client is at this address (x-forwarded-for; honoured from trusted proxies only).")
    var clientAddress: String?
    @Option(name: .customLong("input"), help: "An input line to send (repeatable); default: the lines of stdin.")
    var inputs: [String] = []
    @Option(name: .long, help: "The state directory of the running suite (for its CA and addresses).")
    var stateDir: String?

    func run() async throws {
        let state = try SuiteState.load(from: SuiteState.directory(self.stateDir))
        guard let tls = state?.tlsDirectory else {
            throw SuiteError("no TLS directory: start the suite with skyport up (it creates the development CA)")
        }
        var token = self.token
        var endpoint = self.redemption
        if let (urlEndpoint, urlToken) = SessionClient.parseRedeemURL(self.token) {
            token = urlToken
            endpoint = endpoint ?? urlEndpoint
        }
        guard let endpoint = endpoint ?? state?.instance(named: "redemption")?.address else {
            throw SuiteError("no redemption node: pass --redemption or start the suite")
        }
        var inputs = self.inputs
        if inputs.isEmpty {
            while let line = readLine() { inputs.append(line) }
        }
        let client = SessionClient(trustRootsPath: tls + "/ca.pem")
        do {
            let redeemed = try await client.redeem(token, at: endpoint, clientAddress: self.clientAddress)
            let session = redeemed.response
            print("redeemed in \(Timing.text(redeemed.elapsed)): session \(session.sessionId) in \(session.datacentre)")
            print("  route:     \(session.routeReason)")
            print("  placement: \(session.placementReason)")
            print("  host:      \(session.clientAddress) (instance \(session.instanceId))")
            let conversation = try await client.converse(session, inputs: inputs) { print("< \($0)") }
            print(
                "connected in \(Timing.text(conversation.connectElapsed))"
                    + (conversation.welcome?.resumedState == true ? " (resumed saved state)" : ""))
            for notice in conversation.notices { print("notice: \(notice.reason)") }
            print("session ended: \(conversation.ended ?? "connection closed")")
        } catch let error as RPCError {
            throw SuiteError("\(error.status.code): \(error.status.message)")
        }
    }
}

/// `skyport package install`: puts an application package on the local suite's stream hosts (what the
/// distribution service will do for real).
struct PackageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package", abstract: "Install application packages on the local suite's stream hosts.",
        subcommands: [Install.self])

    /// `skyport package install`.
    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a package directory (with its manifest.json) to every local stream host.")

        @Argument(help: "The application id.") var app: String
        @Argument(help: "The version id.") var version: String
        @Argument(help: "The package directory (holding manifest.json).") var directory: String
        @Option(name: .long, help: "The state directory of the running suite.") var stateDir: String?

        func run() async throws {
            guard let state = try SuiteState.load(from: SuiteState.directory(self.stateDir)) else {
                throw SuiteError("no suite runs (skyport up)")
            }
            for path in try PackageInstaller.install(
                app: self.app, version: self.version, from: self.directory, state: state)
            {
                print("installed \(self.app) \(self.version) at \(path)")
            }
        }
    }
}

/// Copies packages into the stream hosts' package directories.
enum PackageInstaller {
    /// Installs `directory` as `app`/`version` on every stream host of `state`; the paths written.
    static func install(app: String, version: String, from directory: String, state: SuiteState) throws -> [String] {
        for part in [app, version] where part.isEmpty || part.contains("/") || part.hasPrefix(".") {
            throw SuiteError("'\(part)' is not a valid package id")
        }
        guard FileManager.default.fileExists(atPath: directory + "/manifest.json") else {
            throw SuiteError("\(directory) has no manifest.json")
        }
        let hosts = state.instances.filter { $0.executable == "streamhost" }
        guard !hosts.isEmpty else { throw SuiteError("the suite runs no stream host") }
        var written: [String] = []
        for host in hosts {
            let environment = host.environment
            guard
                let packages = environment["SKYPORT_STREAMHOST_PACKAGES_DIR"]
                    ?? environment["SKYPORT_STREAMHOST_DATA_DIR"].map({ $0 + "/packages" })
            else { throw SuiteError("\(host.name) has no packages directory in its environment") }
            let target = "\(packages)/\(app)/\(version)"
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.createDirectory(
                atPath: "\(packages)/\(app)", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: directory, toPath: target)
            written.append(target)
        }
        return written
    }
}

/// Durations as people read them.
enum Timing {
    /// `duration` in milliseconds.
    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// `12.3 ms`, or `1.24 s`.
    static func text(_ duration: Duration) -> String {
        let milliseconds = Self.milliseconds(duration)
        return milliseconds < 1000
            ? String(format: "%.1f ms", milliseconds) : String(format: "%.2f s", milliseconds / 1000)
    }
}
