import ArgumentParser
import Foundation
import SkyportHTTP2
import SkyportProto
import SkyportRPC

/// How the developer commands reach entitlement: the running suite's instance (or `--entitlement`),
/// over TLS as the `skyport` identity, with the developer's API key for developer methods.
struct EntitlementConnection: ParsableArguments {
    @Option(name: .long, help: "The state directory of the running suite.")
    var stateDir: String?

    @Option(name: .long, help: "host:port of entitlement; default: the running suite's instance.")
    var entitlement: String?

    @Option(
        name: .customLong("api-key-file"),
        help:
            "A file holding the developer's API key; default: $SKYPORT_API_KEY. (Not a flag value: argv is visible to others.)"
    )
    var apiKeyFile: String?

    /// A client of entitlement and the TLS transport under it (close it when done).
    func client() throws -> (Skyport_Entitlement_V1_EntitlementClient, HTTP2ClientTransport) {
        let directory = SuiteState.directory(self.stateDir)
        let state = try SuiteState.load(from: directory)
        let address: String
        if let entitlement = self.entitlement {
            address = entitlement
        } else if let instance = state?.instance(named: "entitlement") {
            address = instance.address
        } else {
            throw SuiteError("no suite runs in \(directory) (skyport up), and --entitlement is not set")
        }
        guard let tls = state?.tlsDirectory else {
            throw SuiteError("no TLS directory: start the suite with skyport up (it creates the development CA)")
        }
        let transport = try OperatorTransport.connect(to: address, identity: "entitlement", tlsDirectory: tls)
        return (Skyport_Entitlement_V1_EntitlementClient(RPCClient(transport: transport)), transport)
    }

    /// `authorization: Bearer <key>` from `--api-key-file` or `$SKYPORT_API_KEY`.
    func developerMetadata() throws -> Metadata {
        var key = ProcessInfo.processInfo.environment["SKYPORT_API_KEY"]
        if let file = self.apiKeyFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("cannot read --api-key-file \(file)")
            }
            key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let key, !key.isEmpty else {
            throw ValidationError(
                "an API key is needed: SKYPORT_API_KEY or --api-key-file (skyport developer create prints one)")
        }
        return ["authorization": .string("Bearer \(key)")]
    }

    /// Runs `body` with a client, closing the connection afterwards; a status becomes a one-line error.
    func run<T>(_ body: (Skyport_Entitlement_V1_EntitlementClient) async throws -> T) async throws -> T {
        let (client, transport) = try self.client()
        do {
            let value = try await body(client)
            await transport.close()
            return value
        } catch let error as RPCError {
            await transport.close()
            throw SuiteError("\(error.status.code): \(error.status.message)")
        } catch {
            await transport.close()
            throw error
        }
    }
}

/// Dates on the command line: RFC 3339 (`2027-01-01T00:00:00Z`) to Unix milliseconds and back.
enum CommandLineDate {
    static func milliseconds(_ text: String) throws -> Int64 {
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: text) else {
            throw ValidationError("'\(text)' is not a date like 2027-01-01T00:00:00Z")
        }
        return Int64(date.timeIntervalSince1970 * 1000)
    }

    static func text(_ milliseconds: Int64) -> String {
        milliseconds == 0
            ? "-" : ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
