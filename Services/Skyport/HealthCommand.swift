import ArgumentParser

/// `skyport health ADDRESS`: one `grpc.health.v1` check, for container health checks and scripts.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check one server's gRPC health; exit 0 when SERVING, 1 otherwise.")

    @Argument(help: "host:port of the server.")
    var address: String

    @Option(name: .long, help: "PEM CA that issued the server's certificate.")
    var tlsCa: String?

    @Option(name: .long, help: "PEM client certificate (optional; health is public).")
    var tlsCert: String?

    @Option(name: .long, help: "PEM key of --tls-cert.")
    var tlsKey: String?

    @Flag(name: .long, help: "Cleartext h2c instead of TLS.")
    var plaintext = false

    @Option(name: .long, help: "The service to check; empty for the whole server.")
    var service = ""

    @Option(name: .long, help: "Seconds to wait.")
    var timeout: Double = 3

    func validate() throws {
        guard splitAddress(self.address) != nil else { throw ValidationError("ADDRESS must be host:port") }
        guard self.timeout.isFinite, (0.1...600).contains(self.timeout) else {
            throw ValidationError("--timeout must be 0.1 to 600 seconds")
        }
        if !self.plaintext && self.tlsCa == nil { throw ValidationError("--tls-ca is required unless --plaintext") }
        if (self.tlsCert == nil) != (self.tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
    }

    func run() async throws {
        let (host, port) = splitAddress(self.address)!
        let tls =
            self.plaintext ? nil : HealthProbe.TLSFiles(ca: self.tlsCa!, certificate: self.tlsCert, key: self.tlsKey)
        let probe = try HealthProbe(host: host, port: port, tls: tls)
        let outcome = await probe.check(service: self.service, timeout: .milliseconds(Int(self.timeout * 1000)))
        await probe.close()
        print(outcome)
        if !outcome.isServing { throw ExitCode(1) }
    }
}
