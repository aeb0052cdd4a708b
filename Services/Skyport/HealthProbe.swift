import Logging
import SkyportHTTP2
import SkyportProto
import SkyportRPC

/// One gRPC health check (`grpc.health.v1.Health/Check`) against a Skyport service, over TLS.
struct HealthProbe: Sendable {
    /// The TLS files: the CA that issued the server's certificate and, optionally, a client identity.
    struct TLSFiles: Sendable {
        var ca: String
        var certificate: String?
        var key: String?
    }

    /// What a check found.
    enum Outcome: Sendable, Equatable, CustomStringConvertible {
        case serving
        case notServing(String)
        case unreachable(String)

        var isServing: Bool { self == .serving }

        var description: String {
            switch self {
            case .serving: "SERVING"
            case .notServing(let status): status
            case .unreachable(let reason): "UNREACHABLE (\(reason))"
            }
        }
    }

    let transport: HTTP2ClientTransport

    /// A probe of `host:port`; `tls` nil means cleartext h2c. With `expectedIdentity`, the server's
    /// certificate must name that service.
    init(host: String, port: Int, tls: TLSFiles?, expectedIdentity: String? = nil) throws {
        var configuration = HTTP2ClientConfiguration()
        configuration.connectTimeout = .seconds(2)
        configuration.keepaliveInterval = nil
        configuration.tls = tls.map {
            ClientTLS(
                trustRootsPath: $0.ca, certificateChainPath: $0.certificate, privateKeyPath: $0.key,
                expectedServerIdentity: expectedIdentity)
        }
        var logger = Logger(label: "skyport.health")
        logger.logLevel = .critical
        self.transport = try HTTP2ClientTransport(host: host, port: port, configuration: configuration, logger: logger)
    }

    /// Checks `service` ("" for the whole server).
    func check(service: String = "", timeout: Duration = .seconds(2)) async -> Outcome {
        let client = Grpc_Health_V1_HealthClient(RPCClient(transport: self.transport))
        var request = Grpc_Health_V1_HealthCheckRequest()
        request.service = service
        do {
            let response = try await client.check(request, options: CallOptions(timeout: timeout))
            switch response.status {
            case .serving: return .serving
            case .notServing: return .notServing("NOT_SERVING")
            case .serviceUnknown: return .notServing("SERVICE_UNKNOWN")
            case .unknown, .unrecognized: return .notServing("UNKNOWN")
            }
        } catch let error as RPCError {
            return .unreachable(error.status.code == .unavailable ? "unavailable" : "\(error.status)")
        } catch {
            return .unreachable("\(error)")
        }
    }

    /// Closes the connection.
    func close() async {
        await self.transport.close()
    }
}
