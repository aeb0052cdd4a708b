public import Logging
public import Metrics
public import SkyportRPC
import Synchronization

/// The outermost interceptor of every service: gives each call a request id (the caller's
/// `x-request-id` or a new one, sent back in the response), logs one line when it ends, and counts it
/// for Prometheus:
///
/// - `skyport_rpc_requests_total{method, code}`: finished calls by gRPC status,
/// - `skyport_rpc_errors_total{method, code}`: the same, non-OK statuses only,
/// - `skyport_rpc_duration_seconds{method}`: a latency histogram,
/// - `skyport_rpc_in_flight`: calls running now.
///
/// It runs before access control, so refused calls are counted and logged too. Metadata values are
/// never logged (they may carry credentials).
public struct CallObserver: ServerInterceptor {
    private let logger: Logger
    private let metrics: Instruments

    /// Creates the observer; metrics go to `factory`.
    public init(logger: Logger, metrics factory: any MetricsFactory) {
        self.logger = logger
        self.metrics = Instruments(factory: factory)
    }

    /// Observes one call.
    public func intercept(context: ServerContext, next: () async throws -> Void) async throws {
        let requestID = RequestContext.requestID(from: context.requestMetadata)
        context.initialResponseMetadata.add(RequestContext.requestIDKey, requestID)
        let start = ContinuousClock.now
        self.metrics.inFlight.increment()
        defer { self.metrics.inFlight.decrement() }
        do {
            try await RequestContext.$requestID.withValue(requestID) { try await next() }
            self.finish(context: context, requestID: requestID, code: .ok, message: nil, since: start)
        } catch {
            let status = Router.status(for: error, context: context)
            // A call that fails before its first message ends trailers-only: repeat the id there.
            context.trailingResponseMetadata.add(RequestContext.requestIDKey, requestID)
            self.finish(
                context: context, requestID: requestID, code: status.code, message: status.message, since: start)
            throw error
        }
    }

    private func finish(
        context: ServerContext, requestID: String, code: Status.Code, message: String?,
        since start: ContinuousClock.Instant
    ) {
        let elapsed = ContinuousClock.now - start
        let method = context.method.path
        self.metrics.record(method: method, code: code, duration: elapsed)
        var metadata: Logger.Metadata = [
            "request_id": "\(requestID)", "method": "\(method)", "code": "\(code)",
            "duration_ms": "\(elapsed.millisecondsText)", "peer": "\(context.peer)",
        ]
        if let message, !message.isEmpty { metadata["message"] = "\(message)" }
        let level: Logger.Level
        switch code {
        case .ok: level = .info
        case .internal, .unknown, .dataLoss: level = .error
        case .unimplemented, .unavailable: level = .warning
        default: level = .notice
        }
        self.logger.log(level: level, "call finished", metadata: metadata)
    }

    /// The metric objects, created once per (method, code) and reused.
    private final class Instruments: Sendable {
        let factory: any MetricsFactory
        let inFlight: Meter
        private let perMethod = Mutex<[String: Timer]>([:])
        private let perOutcome = Mutex<[String: (requests: Counter, errors: Counter?)]>([:])

        init(factory: any MetricsFactory) {
            self.factory = factory
            self.inFlight = Meter(label: "skyport_rpc_in_flight", factory: factory)
        }

        func record(method: String, code: Status.Code, duration: Duration) {
            let timer = self.perMethod.withLock { timers in
                if let timer = timers[method] { return timer }
                let timer = Timer(
                    label: "skyport_rpc_duration_seconds", dimensions: [("method", method)], factory: self.factory)
                timers[method] = timer
                return timer
            }
            timer.record(duration: duration)
            let key = "\(method) \(code)"
            let counters = self.perOutcome.withLock { counters in
                if let existing = counters[key] { return existing }
                let dimensions = [("method", method), ("code", "\(code)")]
                let created = (
                    requests: Counter(
                        label: "skyport_rpc_requests_total", dimensions: dimensions, factory: self.factory),
                    errors: code == .ok
                        ? nil
                        : Counter(label: "skyport_rpc_errors_total", dimensions: dimensions, factory: self.factory)
                )
                counters[key] = created
                return created
            }
            counters.requests.increment()
            counters.errors?.increment()
        }
    }
}

extension Duration {
    /// Milliseconds with three decimals, e.g. `12.345`, for logs.
    var millisecondsText: String {
        let (seconds, attoseconds) = self.components
        let microseconds = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        let fraction = String(microseconds % 1000)
        return "\(microseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
