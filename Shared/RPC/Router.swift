/// Maps `:path` to methods and runs calls, turning whatever a handler throws into a status.
public struct Router: Sendable {
    private let methods: [String: ServerMethod]
    private let interceptors: [any ServerInterceptor]

    /// Builds a router over `services`. A later service's method replaces an earlier one with the same path.
    public init(services: [any RPCService], interceptors: [any ServerInterceptor] = []) {
        var methods: [String: ServerMethod] = [:]
        for service in services {
            for method in service.methods { methods[method.descriptor.path] = method }
        }
        self.methods = methods
        self.interceptors = interceptors
    }

    /// The fully-qualified names of every routed service, sorted.
    public var serviceNames: [String] {
        Array(Set(self.methods.values.map(\.descriptor.service))).sorted()
    }

    /// The method for an HTTP/2 `:path`, or `nil` when none is routed there.
    public func method(forPath path: String) -> ServerMethod? {
        self.methods[path]
    }

    /// The status for a path that has no method: UNIMPLEMENTED, naming what is missing.
    public func unimplementedStatus(forPath path: String) -> Status {
        guard let descriptor = MethodDescriptor(path: path) else {
            return Status(code: .unimplemented, message: "Malformed method path '\(path)'")
        }
        if self.methods.values.contains(where: { $0.descriptor.service == descriptor.service }) {
            return Status(code: .unimplemented, message: "Method not found: \(descriptor.path)")
        }
        return Status(code: .unimplemented, message: "Service not found: \(descriptor.service)")
    }

    /// Runs one call through the interceptors and the handler, then finishes the stream with the
    /// resulting status. Never throws: every failure becomes a status.
    public func run(_ method: ServerMethod, stream: any ServerCallStream, context: ServerContext) async {
        do {
            try await self.intercept(from: 0, method: method, stream: stream, context: context)
            stream.finish(status: .ok, trailers: context.trailingResponseMetadata)
        } catch {
            var trailers = context.trailingResponseMetadata
            let status: Status
            if let error = error as? RPCError {
                trailers.add(contentsOf: error.metadata)
                status = error.status
            } else {
                status = Self.status(forUnexpected: error, context: context)
            }
            stream.finish(status: status, trailers: trailers)
        }
    }

    private func intercept(
        from index: Int, method: ServerMethod, stream: any ServerCallStream,
        context: ServerContext
    ) async throws {
        if index == self.interceptors.count {
            try await method.handler(stream, context)
        } else {
            try await self.interceptors[index].intercept(context: context) {
                try await self.intercept(from: index + 1, method: method, stream: stream, context: context)
            }
        }
    }

    /// The status a call that failed with `error` ends with: an `RPCError`'s own status, otherwise
    /// DEADLINE_EXCEEDED, CANCELLED or UNKNOWN as ``run(_:stream:context:)`` would send it.
    public static func status(for error: any Error, context: ServerContext) -> Status {
        if let error = error as? RPCError { return error.status }
        return Self.status(forUnexpected: error, context: context)
    }

    /// Maps an error that is not an `RPCError`. Its description is not sent, since it may carry
    /// internal details; only its type name is.
    static func status(forUnexpected error: any Error, context: ServerContext) -> Status {
        if context.isPastDeadline {
            return Status(code: .deadlineExceeded, message: "Deadline exceeded")
        }
        if error is CancellationError || Task.isCancelled {
            return Status(code: .cancelled, message: "Call cancelled")
        }
        return Status(code: .unknown, message: "Handler failed with \(type(of: error))")
    }
}
