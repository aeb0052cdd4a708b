import SkyportRPC

/// What the service runtime knows about the call the current task serves: its request id, which the
/// log handler adds to every line logged while the call runs.
public enum RequestContext {
    /// The current call's request id; `nil` outside a call.
    @TaskLocal public static var requestID: String?

    /// The metadata key of request ids, in both directions.
    public static let requestIDKey = "x-request-id"

    /// The caller's `x-request-id` when it is 1 to 64 characters of `[A-Za-z0-9._-]`, else a new
    /// random one (16 hex digits); a caller's id that does not fit is replaced, never logged.
    static func requestID(from metadata: Metadata) -> String {
        if let given = metadata[Self.requestIDKey], !given.isEmpty, given.utf8.count <= 64,
            given.utf8.allSatisfy({ Self.isAllowed($0) })
        {
            return given
        }
        return Hex.random(byteCount: 8)
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
