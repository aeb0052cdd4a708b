import Foundation
import SkyportInterop
import SkyportSecurity
import SkyportRPC
import Testing

@Suite struct DevCertificateDirectoryTests {
    func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("skyport-devca-\(UUID().uuidString)/certs").path
    }

    func mode(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    @Test func createsCAAndServiceCertificatesWithNamesAndModes() throws {
        let path = self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let directory = DevCertificateDirectory(directory: path)
        let entries = try directory.generate(services: ["hostmgr", "billing"], hosts: ["localhost", "127.0.0.1", "::1"])
        #expect(entries.map(\.name) == ["ca", "hostmgr", "billing"])
        #expect(entries.allSatisfy { $0.action == .created })
        #expect(try self.mode(path) == 0o700)
        #expect(try self.mode(directory.caKeyPath) == 0o600)
        #expect(try self.mode(directory.keyPath(for: "hostmgr")) == 0o600)
        #expect(try self.mode(directory.certificatePath(for: "hostmgr")) == 0o644)

        // The CA loads (key matches, is a CA), and the leaf carries the documented names.
        _ = try CertificateAuthority(
            certificatePEM: try self.read(directory.caCertificatePath), privateKeyPEM: try self.read(directory.caKeyPath))
        let identity = try TLSIdentity(certificatePEM: try self.read(directory.certificatePath(for: "hostmgr")))
        #expect(identity.commonName == "hostmgr")
        #expect(identity.uris == ["spiffe://skyport.local/hostmgr"])
        #expect(identity.dnsNames == ["localhost"])
        #expect(try TLSIdentity.ipAddresses(inCertificatePEM: try self.read(directory.certificatePath(for: "hostmgr")))
            == ["127.0.0.1", "::1"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    @Test func rerunningKeepsEverythingAndForceReissuesOnlyServices() throws {
        let path = self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let directory = DevCertificateDirectory(directory: path)
        _ = try directory.generate(services: ["hostmgr"])
        let ca = try self.read(directory.caCertificatePath)
        let leaf = try self.read(directory.certificatePath(for: "hostmgr"))

        let again = try directory.generate(services: ["hostmgr", "forecast"])
        #expect(again.map(\.action) == [.kept, .kept, .created])
        #expect(try self.read(directory.caCertificatePath) == ca)
        #expect(try self.read(directory.certificatePath(for: "hostmgr")) == leaf)

        let forced = try directory.generate(services: ["hostmgr"], force: true)
        #expect(forced.map(\.action) == [.kept, .replaced])
        #expect(try self.read(directory.caCertificatePath) == ca)
        #expect(try self.read(directory.certificatePath(for: "hostmgr")) != leaf)
        #expect(try self.mode(directory.keyPath(for: "hostmgr")) == 0o600)

        // A new CA invalidates old leaves, so they are reissued.
        try FileManager.default.removeItem(atPath: directory.caCertificatePath)
        try FileManager.default.removeItem(atPath: directory.caKeyPath)
        let fresh = try directory.generate(services: ["hostmgr"])
        #expect(fresh.map(\.action) == [.created, .replaced])
    }

    @Test func refusesHalfACAAndBadServiceNames() throws {
        let path = self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let directory = DevCertificateDirectory(directory: path)
        _ = try directory.generate(services: ["hostmgr"])
        try FileManager.default.removeItem(atPath: directory.caCertificatePath)
        #expect(throws: DevCertificateDirectoryError.self) { try directory.generate(services: ["hostmgr"]) }
        for name in ["../etc", "ca", "Host", ""] {
            #expect(throws: DevCertificateDirectoryError.self) { try directory.generate(services: [name]) }
        }
    }
}
