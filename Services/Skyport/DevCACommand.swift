import ArgumentParser
import Foundation
import SkyportSecurity

/// `skyport dev-ca`: a development CA and one mutual-TLS certificate per service, through
/// `DevCertificateDirectory` (OpenSSL's API, never the `openssl` binary).
struct DevCACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-ca",
        abstract: "Create a development CA and one certificate per service (idempotent).",
        discussion: """
            Writes DIR/ca.pem, DIR/ca-key.pem and, per service, DIR/<service>.pem and DIR/<service>-key.pem. \
            Keys are mode 0600. Each certificate has CN=<service>, the URI SAN spiffe://skyport.local/<service> \
            and the --hosts as DNS or IP SANs. An existing CA is reused; existing certificates are kept \
            unless --force.
            """)

    @Option(name: .long, help: "Directory to write into (created with mode 0700).")
    var dir: String

    @Option(name: .long, help: "Comma-separated service names.")
    var services: String = DevCertificateDirectory.defaultServices.joined(separator: ",")

    @Option(name: .long, help: "Comma-separated host names and IP addresses for the SANs.")
    var hosts: String = DevCertificateDirectory.defaultHosts.joined(separator: ",")

    @Flag(name: .long, help: "Reissue service certificates that already exist (the CA is kept).")
    var force = false

    func run() async throws {
        let services = Self.list(self.services)
        let hosts = Self.list(self.hosts)
        guard !services.isEmpty else { throw ValidationError("--services names no service") }
        let entries: [DevCertificateDirectory.Entry]
        do {
            entries = try DevCertificateDirectory(directory: self.dir).generate(
                services: services, hosts: hosts, force: self.force)
        } catch {
            throw ValidationError("\(error)")
        }
        print(
            Table.render(
                ["NAME", "ACTION", "CERTIFICATE"],
                entries.map { [$0.name, $0.action.rawValue, $0.certificatePath] }))
    }

    private static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
