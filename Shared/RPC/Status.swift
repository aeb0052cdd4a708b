/// The outcome of an RPC as carried in the `grpc-status` and `grpc-message` trailers.
public struct Status: Sendable, Hashable, CustomStringConvertible {
    /// The canonical gRPC status codes.
    public enum Code: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case ok = 0
        case cancelled = 1
        case unknown = 2
        case invalidArgument = 3
        case deadlineExceeded = 4
        case notFound = 5
        case alreadyExists = 6
        case permissionDenied = 7
        case resourceExhausted = 8
        case failedPrecondition = 9
        case aborted = 10
        case outOfRange = 11
        case unimplemented = 12
        case `internal` = 13
        case unavailable = 14
        case dataLoss = 15
        case unauthenticated = 16

        /// The name gRPC uses for the code, e.g. `DEADLINE_EXCEEDED`.
        public var description: String {
            switch self {
            case .ok: "OK"
            case .cancelled: "CANCELLED"
            case .unknown: "UNKNOWN"
            case .invalidArgument: "INVALID_ARGUMENT"
            case .deadlineExceeded: "DEADLINE_EXCEEDED"
            case .notFound: "NOT_FOUND"
            case .alreadyExists: "ALREADY_EXISTS"
            case .permissionDenied: "PERMISSION_DENIED"
            case .resourceExhausted: "RESOURCE_EXHAUSTED"
            case .failedPrecondition: "FAILED_PRECONDITION"
            case .aborted: "ABORTED"
            case .outOfRange: "OUT_OF_RANGE"
            case .unimplemented: "UNIMPLEMENTED"
            case .internal: "INTERNAL"
            case .unavailable: "UNAVAILABLE"
            case .dataLoss: "DATA_LOSS"
            case .unauthenticated: "UNAUTHENTICATED"
            }
        }

        /// Parses the decimal value of a `grpc-status` header. Unknown values map to `.unknown`,
        /// as the gRPC specification requires.
        public init(headerValue: some StringProtocol) {
            if let raw = Int(headerValue), let code = Code(rawValue: raw) {
                self = code
            } else {
                self = .unknown
            }
        }
    }

    /// The status code.
    public var code: Code
    /// A human-readable message; empty when there is none.
    public var message: String

    /// Creates a status.
    public init(code: Code, message: String = "") {
        self.code = code
        self.message = message
    }

    /// The OK status with no message.
    public static let ok = Status(code: .ok)

    /// `CODE: message`, or just the code when the message is empty.
    public var description: String {
        self.message.isEmpty ? self.code.description : "\(self.code): \(self.message)"
    }
}
