public import SkyportRPC

extension StorageError {
    /// The status this error ends an RPC with: the one place storage failures become gRPC statuses.
    ///
    /// | Storage error | Status |
    /// |---|---|
    /// | `uniqueViolation` | `ALREADY_EXISTS` |
    /// | `foreignKeyViolation`, `constraintViolation` | `FAILED_PRECONDITION` |
    /// | `notFound` | `NOT_FOUND` |
    /// | `unavailable` | `UNAVAILABLE` |
    /// | `conflict` | `ABORTED` (the client may retry the whole call) |
    /// | `cancelled` | `CANCELLED` |
    /// | everything else | `INTERNAL` with a generic message |
    ///
    /// Messages are generic: constraint names, SQL and backend text stay in the server's logs, because
    /// they describe the schema rather than anything the caller can act on.
    public var rpcError: RPCError {
        switch self {
        case .uniqueViolation:
            RPCError(code: .alreadyExists, message: "the resource already exists")
        case .foreignKeyViolation:
            RPCError(code: .failedPrecondition, message: "a referenced resource does not exist or is still referenced")
        case .constraintViolation:
            RPCError(code: .failedPrecondition, message: "the request violates a data constraint")
        case .notFound(let what):
            RPCError(code: .notFound, message: what.isEmpty ? "not found" : "\(what) not found")
        case .unavailable:
            RPCError(code: .unavailable, message: "the database is unavailable; retry later")
        case .conflict:
            RPCError(code: .aborted, message: "the operation conflicted with a concurrent one; retry it")
        case .cancelled:
            RPCError(code: .cancelled, message: "cancelled")
        case .invalidURL, .decoding, .migration, .invalidStatement, .other:
            RPCError(code: .internal, message: "internal storage error")
        }
    }
}

extension RPCError {
    /// The status for a storage error; same as ``StorageError/rpcError``.
    public init(_ error: StorageError) {
        self = error.rpcError
    }
}
