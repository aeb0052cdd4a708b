import Logging
import SkyportHTTP2
import SkyportInterop
import SkyportRPC
import SkyportSecurity
import SkyportTestSupport
import Testing

/// The allow-list over real mutual TLS: our HTTP/2 server requiring client certificates, our client.
@Suite struct MutualTLSAuthorizationTests {
    static var quietLogger: Logger {
        var logger = Logger(label: "security-test")
        logger.logLevel = .critical
        return logger
    }

    struct Running {
        let server: HTTP2Server
        let port: Int
        let ca: CertificateAuthority
    }

    func start() async throws -> Running {
        let ca = try CertificateAuthority.create(commonName: "Security Test CA")
        let server = try ca.issue(commonName: "guarded", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        let tls = ServerTLS(configuration: .server(
            certificateChain: .string(server.certificatePEM), privateKey: .string(server.privateKeyPEM),
            trustRoots: .string(ca.certificatePEM), requireClientCertificate: true))
        let http2 = try HTTP2Server(
            router: Router(services: [GuardedService()], interceptors: [IdentityAuthorizationInterceptor(policy: Guarded.policy)]),
            tls: tls, logger: Self.quietLogger)
        let port = try await http2.bind(host: "127.0.0.1", port: 0)
        return Running(server: http2, port: port, ca: ca)
    }

    func call(
        _ running: Running, as certificate: CertificateAuthority.IssuedCertificate?, method: MethodDescriptor,
        expecting server: String? = nil
    ) async throws -> String {
        let transport = try HTTP2ClientTransport(
            host: "127.0.0.1", port: running.port,
            configuration: HTTP2ClientConfiguration(
                tls: ClientTLS(
                    configuration: .client(
                        serverHostname: "localhost", trustRoots: .string(running.ca.certificatePEM),
                        certificateChain: certificate.map { .string($0.certificatePEM) },
                        privateKey: certificate.map { .string($0.privateKeyPEM) }),
                    expectedServerIdentity: server)),
            logger: Self.quietLogger)
        do {
            let response = try await RPCClient(transport: transport).unary(method, request: Blob(), responseType: Blob.self)
            await transport.close()
            return response.message.text
        } catch {
            await transport.close()
            throw error
        }
    }

    @Test func allowedServiceSucceedsAndOthersAreRefused() async throws {
        let running = try await self.start()
        let directory = DevCertificateDirectory(directory: "/unused")
        let hostmgr = try running.ca.issue(
            commonName: "hostmgr", dnsNames: ["localhost"], uris: [directory.spiffeID(for: "hostmgr")])
        let billing = try running.ca.issue(commonName: "billing", uris: [directory.spiffeID(for: "billing")])

        #expect(try await self.call(running, as: hostmgr, method: Guarded.forHostmgr) == "service:hostmgr")
        #expect(try await self.call(running, as: billing, method: Guarded.forBilling) == "service:billing")
        #expect(try await self.call(running, as: billing, method: Guarded.health) == "none")

        let notListed = await #expect(throws: RPCError.self) {
            _ = try await self.call(running, as: billing, method: Guarded.forHostmgr)
        }
        #expect(notListed?.code == .permissionDenied)
        let undeclared = await #expect(throws: RPCError.self) {
            _ = try await self.call(running, as: hostmgr, method: Guarded.undeclared)
        }
        #expect(undeclared?.code == .permissionDenied)
        await running.server.shutdown()
    }

    @Test func clientsRefuseAServerThatIsNotTheServiceTheyAskedFor() async throws {
        let running = try await self.start()
        let hostmgr = try running.ca.issue(commonName: "hostmgr", dnsNames: ["localhost"])
        #expect(try await self.call(running, as: hostmgr, method: Guarded.forHostmgr, expecting: "guarded") == "service:hostmgr")
        let impostor = await #expect(throws: RPCError.self) {
            _ = try await self.call(running, as: hostmgr, method: Guarded.forHostmgr, expecting: "billing")
        }
        #expect(impostor?.code == .unavailable)
        #expect(impostor?.message.contains("is not 'billing'") == true)
        await running.server.shutdown()
    }

    @Test func clientWithoutCertificateIsRefusedAtTheHandshake() async throws {
        let running = try await self.start()
        let refused = await #expect(throws: RPCError.self) {
            _ = try await self.call(running, as: nil, method: Guarded.health)
        }
        #expect(refused?.code == .unavailable)
        await running.server.shutdown()
    }

    @Test func certificateFromAnotherCAIsRefused() async throws {
        let running = try await self.start()
        let otherCA = try CertificateAuthority.create(commonName: "Impostor CA")
        // Same name as an allowed service, but not issued by the server's CA.
        let impostor = try otherCA.issue(commonName: "hostmgr", uris: ["spiffe://skyport.local/hostmgr"])
        let refused = await #expect(throws: RPCError.self) {
            _ = try await self.call(running, as: impostor, method: Guarded.forHostmgr)
        }
        #expect(refused?.code == .unavailable)
        await running.server.shutdown()
    }
}
