/// The one error type that crosses the wire: a non-OK status with optional trailing metadata.
///
/// Handlers throw it to end a call with a specific status; clients receive it when a call ends with
/// anything other than OK. Local failures use their own error types and are mapped to `RPCError` at
/// the edge of each service.
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The status code; never `.ok`.
    public var code: Status.Code
    /// The status message.
    public var message: String
    /// Trailing metadata sent (or received) with the status.
    public var metadata: Metadata

    /// Creates an error. An `.ok` code is turned into `.unknown`, because an error cannot be OK.
    public init(code: Status.Code, message: String, metadata: Metadata = [:]) {
        self.code = code == .ok ? .unknown : code
        self.message = message
        self.metadata = metadata
    }

    /// Creates an error from a received non-OK status.
    public init(status: Status, metadata: Metadata = [:]) {
        self.init(code: status.code, message: status.message, metadata: metadata)
    }

    /// The status this error ends a call with.
    public var status: Status { Status(code: self.code, message: self.message) }

    /// `CODE: message`.
    public var description: String { self.status.description }
}
