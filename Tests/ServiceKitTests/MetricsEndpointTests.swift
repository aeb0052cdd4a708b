import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import SkyportConfig
import SkyportService
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The Prometheus endpoint over a real socket.
@Suite struct MetricsEndpointTests {
    /// Sends `request` to 127.0.0.1:`port` and reads until the server closes.
    static func exchange(port: Int, _ request: String) throws -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        // A server that never answers fails the test after 5 s instead of hanging the run.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        _ = Array(request.utf8).withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        return String(decoding: response, as: UTF8.self)
    }

    func withEndpoint(token: String?, _ body: (Int) async throws -> Void) async throws {
        let registry = PrometheusCollectorRegistry()
        Counter(label: "skyport_test_total", factory: PrometheusMetricsFactory(registry: registry)).increment(by: 3)
        let endpoint = MetricsEndpoint(
            address: HostAndPort(host: "127.0.0.1", port: 0), registry: registry, token: token,
            logger: Logger(label: "test"))
        let run = Task { try await endpoint.run() }
        let port = try await endpoint.waitUntilBound()
        try await body(port)
        run.cancel()
        try await run.value
    }

    @Test func servesTheRegistryAndRefusesOtherPathsAndMethods() async throws {
        try await self.withEndpoint(token: nil) { port in
            let ok = try Self.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(ok.hasPrefix("HTTP/1.1 200 OK"))
            #expect(ok.contains("skyport_test_total 3"))
            #expect(ok.lowercased().contains("content-type: text/plain; version=0.0.4"))
            let missing = try Self.exchange(port: port, "GET /secrets HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(missing.hasPrefix("HTTP/1.1 404"))
            let post = try Self.exchange(port: port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            #expect(post.hasPrefix("HTTP/1.1 405"))
        }
    }

    @Test func requiresTheBearerTokenWhenConfigured() async throws {
        try await self.withEndpoint(token: "t0ken-value") { port in
            let without = try Self.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(without.hasPrefix("HTTP/1.1 401"))
            #expect(!without.contains("skyport_test_total"))
            let wrong = try Self.exchange(port: port, "GET /metrics HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n")
            #expect(wrong.hasPrefix("HTTP/1.1 401"))
            let right = try Self.exchange(
                port: port, "GET /metrics HTTP/1.1\r\nAuthorization: Bearer t0ken-value\r\n\r\n")
            #expect(right.hasPrefix("HTTP/1.1 200"))
            #expect(right.contains("skyport_test_total 3"))
        }
    }
}
