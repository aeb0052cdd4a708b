import SkyportInterop
import SkyportRPC
import Testing

@Suite("CertificateAuthority")
struct CertificateAuthorityTests {
    @Test("a new CA is a PEM certificate with a PKCS#8 key and the requested name")
    func createAuthority() throws {
        let authority = try CertificateAuthority.create(commonName: "Dev CA", validityDays: 30)
        #expect(authority.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(authority.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(try TLSIdentity(certificatePEM: authority.certificatePEM).commonName == "Dev CA")
        // Loading it back checks that the key matches and that it is a CA.
        let reloaded = try CertificateAuthority(
            certificatePEM: authority.certificatePEM, privateKeyPEM: authority.privateKeyPEM)
        #expect(reloaded.certificatePEM == authority.certificatePEM)
        #expect(!authority.description.contains("PRIVATE KEY"))
    }

    @Test("issued certificates carry the requested names")
    func issuedNames() throws {
        let authority = try CertificateAuthority.create()
        let issued = try authority.issue(
            commonName: "orders", dnsNames: ["localhost", "orders.internal"], ipAddresses: ["127.0.0.1", "::1"],
            uris: ["spiffe://skyport/orders"])
        #expect(issued.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(issued.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let identity = try TLSIdentity(certificatePEM: issued.certificatePEM)
        #expect(identity.commonName == "orders")
        #expect(identity.dnsNames == ["localhost", "orders.internal"])
        #expect(identity.uris == ["spiffe://skyport/orders"])
        #expect(try TLSIdentity.ipAddresses(inCertificatePEM: issued.certificatePEM) == ["127.0.0.1", "::1"])
        #expect(issued.privateKeyPEM != authority.privateKeyPEM)
        #expect(!issued.description.contains("PRIVATE KEY"))
    }

    @Test("issued certificates verify against their CA and not against another")
    func issuedCertificatesVerify() throws {
        let authority = try CertificateAuthority.create()
        let other = try CertificateAuthority.create(commonName: "Other")
        let server = try authority.issue(commonName: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        let serverContext = try TLSContext(
            configuration: .server(
                certificateChain: .string(server.certificatePEM), privateKey: .string(server.privateKeyPEM)))

        for (roots, hostname, succeeds) in [
            (authority, "localhost", true), (authority, "127.0.0.1", true), (other, "localhost", false),
        ] {
            let client = try TLSContext(
                configuration: .client(serverHostname: hostname, trustRoots: .string(roots.certificatePEM)))
            let pipe = TLSPipe(
                client: try TLSConnection(context: client), server: try TLSConnection(context: serverContext))
            #expect(pipe.handshake() == succeeds, "trusting \(roots), host \(hostname)")
        }
    }

    @Test("a CA reissued from PEM issues certificates that chain to the same root")
    func reloadedAuthorityIssues() throws {
        let authority = try CertificateAuthority.create()
        let reloaded = try CertificateAuthority(
            certificatePEM: authority.certificatePEM, privateKeyPEM: authority.privateKeyPEM)
        let client = try reloaded.issue(commonName: "client")
        let server = try authority.issue(commonName: "server", dnsNames: ["localhost"])
        let pipe = TLSPipe(
            client: try TLSConnection(
                context: try TLSContext(
                    configuration: .client(
                        serverHostname: "localhost", trustRoots: .string(authority.certificatePEM),
                        certificateChain: .string(client.certificatePEM), privateKey: .string(client.privateKeyPEM)))),
            server: try TLSConnection(
                context: try TLSContext(
                    configuration: .server(
                        certificateChain: .string(server.certificatePEM), privateKey: .string(server.privateKeyPEM),
                        trustRoots: .string(authority.certificatePEM), requireClientCertificate: true))))
        #expect(pipe.handshake())
        #expect(pipe.server.peerIdentity?.commonName == "client")
    }

    @Test("invalid input is refused")
    func invalidInput() throws {
        let authority = try CertificateAuthority.create()
        let other = try CertificateAuthority.create()
        #expect(throws: TLSError.self) { try authority.issue(commonName: "x", ipAddresses: ["not-an-ip"]) }
        #expect(throws: TLSError.self) { try authority.issue(commonName: "x", validityDays: 0) }
        // Mismatched key, and a leaf certificate posing as a CA.
        #expect(throws: TLSError.self) {
            try CertificateAuthority(certificatePEM: authority.certificatePEM, privateKeyPEM: other.privateKeyPEM)
        }
        let leaf = try authority.issue(commonName: "leaf")
        #expect(throws: TLSError.self) {
            try CertificateAuthority(certificatePEM: leaf.certificatePEM, privateKeyPEM: leaf.privateKeyPEM)
        }
    }
}
