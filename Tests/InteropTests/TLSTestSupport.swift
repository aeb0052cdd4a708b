import NIOCore
import SkyportInterop
import SkyportRPC

/// Certificates shared by the TLS tests: generated once per process (EC keys make this fast).
struct TLSTestCertificates: Sendable {
    let authority: CertificateAuthority
    let otherAuthority: CertificateAuthority
    let server: CertificateAuthority.IssuedCertificate
    let client: CertificateAuthority.IssuedCertificate
    let clientFromOtherAuthority: CertificateAuthority.IssuedCertificate

    static let shared: TLSTestCertificates = {
        do {
            let authority = try CertificateAuthority.create(commonName: "Skyport Test CA", validityDays: 2)
            let otherAuthority = try CertificateAuthority.create(commonName: "Other CA", validityDays: 2)
            return TLSTestCertificates(
                authority: authority,
                otherAuthority: otherAuthority,
                server: try authority.issue(
                    commonName: "test-server", dnsNames: ["localhost", "api.skyport.test"],
                    ipAddresses: ["127.0.0.1", "::1"], validityDays: 2),
                client: try authority.issue(
                    commonName: "client-a", dnsNames: ["client-a.skyport.test"],
                    uris: ["spiffe://skyport.test/service/client-a"], validityDays: 2),
                clientFromOtherAuthority: try otherAuthority.issue(commonName: "intruder", validityDays: 2))
        } catch {
            fatalError("cannot create test certificates: \(error)")
        }
    }()

    func serverContext(requireClientCertificate: Bool = false) throws -> TLSContext {
        try TLSContext(
            configuration: .server(
                certificateChain: .string(self.server.certificatePEM), privateKey: .string(self.server.privateKeyPEM),
                trustRoots: requireClientCertificate ? .string(self.authority.certificatePEM) : nil,
                requireClientCertificate: requireClientCertificate))
    }

    func clientContext(
        hostname: String = "localhost", certificate: CertificateAuthority.IssuedCertificate? = nil,
        trustRoots: String? = nil, applicationProtocols: [String] = ["h2"]
    ) throws -> TLSContext {
        var configuration = TLSConfiguration.client(
            serverHostname: hostname, trustRoots: .string(trustRoots ?? self.authority.certificatePEM),
            certificateChain: certificate.map { .string($0.certificatePEM) },
            privateKey: certificate.map { .string($0.privateKeyPEM) })
        configuration.applicationProtocols = applicationProtocols
        return try TLSContext(configuration: configuration)
    }
}

/// Two in-memory TLS connections and the bytes between them.
final class TLSPipe {
    let client: TLSConnection
    let server: TLSConnection
    var clientError: (any Error)?
    var serverError: (any Error)?
    private let allocator = ByteBufferAllocator()

    init(client: TLSConnection, server: TLSConnection) {
        self.client = client
        self.server = server
    }

    /// Runs the handshake until both ends complete or one fails; returns whether both completed.
    @discardableResult
    func handshake() -> Bool {
        var clientState = TLSConnection.HandshakeState.wantRead
        var serverState = TLSConnection.HandshakeState.wantRead
        for _ in 0..<10 {
            if self.clientError == nil {
                do { clientState = try self.client.doHandshake() } catch { self.clientError = error }
            }
            self.move(from: self.client, to: self.server)
            if self.serverError == nil {
                do { serverState = try self.server.doHandshake() } catch { self.serverError = error }
            }
            self.move(from: self.server, to: self.client)
            if self.clientError != nil || self.serverError != nil {
                // Let the other end read the alert the failing end sent.
                if self.clientError == nil {
                    do { _ = try self.client.doHandshake() } catch { self.clientError = error }
                }
                return false
            }
            if clientState == .complete && serverState == .complete { return true }
        }
        return false
    }

    /// Moves pending ciphertext from one end to the other.
    func move(from source: TLSConnection, to destination: TLSConnection) {
        var buffer = self.allocator.buffer(capacity: 0)
        source.drainCiphertext(into: &buffer)
        // A test pipe cannot run out of memory; feed only fails then.
        try! destination.feed(ciphertext: &buffer)
    }

    /// Writes `bytes` on one end and returns what the other end reads.
    func send(_ bytes: [UInt8], from source: TLSConnection, to destination: TLSConnection) throws -> [UInt8] {
        try source.writePlaintext(self.allocator.buffer(bytes: bytes))
        self.move(from: source, to: destination)
        var received = self.allocator.buffer(capacity: 0)
        _ = try destination.readPlaintext(into: &received)
        return Array(received.readableBytesView)
    }

    /// Whether the client notices the failure when it next reads (TLS 1.3 clients finish their
    /// side of the handshake before the server has checked the client certificate).
    func clientFailsOnRead() -> Bool {
        var buffer = self.allocator.buffer(capacity: 0)
        do {
            _ = try self.client.readPlaintext(into: &buffer)
            return false
        } catch {
            return true
        }
    }
}
