import Foundation
import NIOCore
import SkyportInterop
import SkyportRPC
import Testing

@Suite("TLSConnection in memory")
struct TLSConnectionTests {
    let certificates = TLSTestCertificates.shared

    @Test("handshake completes with ALPN h2 and data flows both ways")
    func handshakeAndData() throws {
        let pipe = TLSPipe(
            client: try TLSConnection(context: try self.certificates.clientContext()),
            server: try TLSConnection(context: try self.certificates.serverContext()))
        #expect(pipe.handshake())
        #expect(pipe.client.negotiatedALPN == "h2")
        #expect(pipe.server.negotiatedALPN == "h2")
        // The client verified the server; the server asked for no client certificate.
        #expect(pipe.client.peerIdentity?.commonName == "test-server")
        #expect(pipe.client.peerIdentity?.dnsNames == ["localhost", "api.skyport.test"])
        #expect(pipe.server.peerIdentity == nil)

        #expect(try pipe.send(Array("ping".utf8), from: pipe.client, to: pipe.server) == Array("ping".utf8))
        #expect(try pipe.send(Array("pong".utf8), from: pipe.server, to: pipe.client) == Array("pong".utf8))
        // Several records' worth in one go.
        let large = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(try pipe.send(large, from: pipe.client, to: pipe.server) == large)
        #expect(try pipe.send(large, from: pipe.server, to: pipe.client) == large)
    }

    @Test("mutual TLS gives the server the client's common name and SANs")
    func mutualTLS() throws {
        let pipe = TLSPipe(
            client: try TLSConnection(
                context: try self.certificates.clientContext(certificate: self.certificates.client)),
            server: try TLSConnection(context: try self.certificates.serverContext(requireClientCertificate: true)))
        #expect(pipe.handshake())
        let identity = try #require(pipe.server.peerIdentity)
        #expect(identity.commonName == "client-a")
        #expect(identity.dnsNames == ["client-a.skyport.test"])
        #expect(identity.uris == ["spiffe://skyport.test/service/client-a"])
        #expect(try pipe.send(Array("hello".utf8), from: pipe.client, to: pipe.server) == Array("hello".utf8))
    }

    @Test("a client without a certificate is refused when the server requires one")
    func missingClientCertificateRefused() throws {
        let pipe = TLSPipe(
            client: try TLSConnection(context: try self.certificates.clientContext()),
            server: try TLSConnection(context: try self.certificates.serverContext(requireClientCertificate: true)))
        #expect(!pipe.handshake())
        #expect(pipe.serverError is TLSError)
        #expect(pipe.server.peerIdentity == nil)
        #expect(pipe.clientError != nil || pipe.clientFailsOnRead())
    }

    @Test("a client certificate from another CA is refused")
    func clientFromOtherAuthorityRefused() throws {
        let pipe = TLSPipe(
            client: try TLSConnection(
                context: try self.certificates.clientContext(certificate: self.certificates.clientFromOtherAuthority)),
            server: try TLSConnection(context: try self.certificates.serverContext(requireClientCertificate: true)))
        #expect(!pipe.handshake())
        let error = try #require(pipe.serverError as? TLSError)
        #expect(error.verificationFailure != nil)
        #expect(pipe.server.peerIdentity == nil)
        #expect(pipe.clientError != nil || pipe.clientFailsOnRead())
    }

    @Test("a server whose certificate does not name the host is refused")
    func hostnameMismatchRefused() throws {
        let pipe = TLSPipe(
            client: try TLSConnection(context: try self.certificates.clientContext(hostname: "evil.example.com")),
            server: try TLSConnection(context: try self.certificates.serverContext()))
        #expect(!pipe.handshake())
        let error = try #require(pipe.clientError as? TLSError)
        #expect(error.verificationFailure?.contains("hostname mismatch") == true)
    }

    @Test("a host name override verifies against the override", arguments: ["api.skyport.test", "127.0.0.1", "::1"])
    func hostnameOverrideAccepted(override: String) throws {
        let context = try self.certificates.clientContext(hostname: "evil.example.com")
        let pipe = TLSPipe(
            client: try TLSConnection(context: context, serverHostname: override),
            server: try TLSConnection(context: try self.certificates.serverContext()))
        #expect(pipe.handshake())
        #expect(pipe.clientError == nil)
    }

    @Test("an IP address absent from the IP SANs is refused")
    func ipMismatchRefused() throws {
        let pipe = TLSPipe(
            client: try TLSConnection(context: try self.certificates.clientContext(hostname: "127.0.0.2")),
            server: try TLSConnection(context: try self.certificates.serverContext()))
        #expect(!pipe.handshake())
        #expect((pipe.clientError as? TLSError)?.verificationFailure != nil)
    }

    @Test("a server certificate from an untrusted CA is refused")
    func untrustedServerRefused() throws {
        let context = try self.certificates.clientContext(trustRoots: self.certificates.otherAuthority.certificatePEM)
        let pipe = TLSPipe(
            client: try TLSConnection(context: context),
            server: try TLSConnection(context: try self.certificates.serverContext()))
        #expect(!pipe.handshake())
        #expect((pipe.clientError as? TLSError)?.verificationFailure != nil)
    }

    @Test("a client that does not offer h2 is refused by the server")
    func clientWithoutH2Refused() throws {
        let pipe = TLSPipe(
            client: try TLSConnection(
                context: try self.certificates.clientContext(applicationProtocols: ["http/1.1"])),
            server: try TLSConnection(context: try self.certificates.serverContext()))
        #expect(!pipe.handshake())
        #expect(pipe.serverError is TLSError)
        // The server's no_application_protocol alert reaches the client.
        let clientError = try #require(pipe.clientError as? TLSError)
        #expect(clientError.openSSLErrors.joined().contains("no application protocol"))
        #expect(pipe.client.negotiatedALPN == nil)
    }

    @Test("close_notify tells the peer the stream ended")
    func closeNotify() throws {
        let pipe = TLSPipe(
            client: try TLSConnection(context: try self.certificates.clientContext()),
            server: try TLSConnection(context: try self.certificates.serverContext()))
        #expect(pipe.handshake())
        pipe.client.shutdown()
        #expect(pipe.client.hasPendingCiphertext)
        pipe.move(from: pipe.client, to: pipe.server)
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        #expect(try pipe.server.readPlaintext(into: &buffer) == .closed)
        #expect(buffer.readableBytes == 0)
    }

    @Test("writing before the handshake completes is an error, not a silent drop")
    func writeBeforeHandshake() throws {
        let client = try TLSConnection(context: try self.certificates.clientContext())
        #expect(throws: TLSError.self) { try client.writePlaintext(ByteBuffer(string: "early")) }
    }

    @Test("contexts load PEM files as well as bytes")
    func pemFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skyport-tls-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = [
            "server.pem": self.certificates.server.certificatePEM, "server.key": self.certificates.server.privateKeyPEM,
            "ca.pem": self.certificates.authority.certificatePEM,
        ]
        for (name, contents) in files {
            try contents.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let server = try TLSContext(
            configuration: .server(
                certificateChain: .file(directory.appendingPathComponent("server.pem").path),
                privateKey: .file(directory.appendingPathComponent("server.key").path)))
        let client = try TLSContext(
            configuration: .client(
                serverHostname: "localhost", trustRoots: .file(directory.appendingPathComponent("ca.pem").path)))
        let pipe = TLSPipe(client: try TLSConnection(context: client), server: try TLSConnection(context: server))
        #expect(pipe.handshake())

        #expect(throws: TLSError.self) {
            try TLSContext(
                configuration: .client(serverHostname: "x", trustRoots: .file(directory.path + "/missing.pem")))
        }
    }

    @Test("bad configurations fail when the context is built, without revealing key material")
    func configurationErrors() throws {
        let server = self.certificates.server
        // A server needs a certificate.
        #expect(throws: TLSError.self) { try TLSContext(configuration: TLSConfiguration(role: .server)) }
        // Mutual TLS needs trust roots.
        #expect(throws: TLSError.self) {
            try TLSContext(
                configuration: .server(
                    certificateChain: .string(server.certificatePEM), privateKey: .string(server.privateKeyPEM),
                    requireClientCertificate: true))
        }
        // A key that does not match the certificate.
        let error = #expect(throws: TLSError.self) {
            try TLSContext(
                configuration: .server(
                    certificateChain: .string(server.certificatePEM),
                    privateKey: .string(self.certificates.client.privateKeyPEM)))
        }
        #expect(error?.description.contains("PRIVATE KEY") == false)
        #expect(error?.openSSLErrors.isEmpty == false)
        // Sources describe themselves without their contents.
        #expect(!TLSConfiguration.PEMSource.string(server.privateKeyPEM).description.contains("PRIVATE"))
    }
}
