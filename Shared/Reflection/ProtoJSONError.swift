/// JSON that does not fit the message type it is encoded as, or binary data that cannot be shown as
/// JSON. `path` names the field, e.g. `developer.email`, `items[2].name` or `counts["a"]`.
public struct ProtoJSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The field path from the top-level message (JSON names as written); empty for the message itself.
    public var path: String
    /// What is wrong, e.g. `expected a string`.
    public var reason: String

    /// Creates the error.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// `field 'developer.email': expected a string`, or just the reason for the top-level message.
    public var description: String {
        self.path.isEmpty ? self.reason : "field '\(self.path)': \(self.reason)"
    }

    /// `parent.child`, or `child` at the top.
    static func join(_ path: String, _ name: String) -> String {
        path.isEmpty ? name : path + "." + name
    }
}
