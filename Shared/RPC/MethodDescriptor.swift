/// Names one RPC method: `/<package>.<Service>/<Method>` on the wire.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// The fully-qualified service name, e.g. `grpc.health.v1.Health`.
    public var service: String
    /// The method name, e.g. `Check`.
    public var method: String

    /// Creates a descriptor.
    public init(service: String, method: String) {
        self.service = service
        self.method = method
    }

    /// Parses an HTTP/2 `:path` of the form `/service/method`; `nil` when it has another shape.
    public init?(path: some StringProtocol) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else { return nil }
        self.service = String(parts[1])
        self.method = String(parts[2])
    }

    /// The HTTP/2 `:path`.
    public var path: String { "/\(self.service)/\(self.method)" }

    /// The same as `path`.
    public var description: String { self.path }
}

/// The four shapes an RPC can take.
public enum CallShape: Sendable, Hashable {
    /// One request, one response.
    case unary
    /// One request, a stream of responses.
    case serverStreaming
    /// A stream of requests, one response.
    case clientStreaming
    /// Streams both ways.
    case bidirectionalStreaming
}
