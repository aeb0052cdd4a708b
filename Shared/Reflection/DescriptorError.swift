/// A descriptor could not be parsed, added to a pool, or found in one.
public enum DescriptorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Bytes that are not a valid `FileDescriptorProto`, or one missing what this module needs.
    case malformedFile(name: String, reason: String)
    /// A second file defines a name the pool already has.
    case duplicateSymbol(String, file: String, existingFile: String)
    /// Nothing in the pool has this name.
    case unknownSymbol(String)
    /// No service has this name.
    case unknownService(String)
    /// The service exists but has no method of this name.
    case unknownMethod(service: String, method: String, available: [String])
    /// Neither `package.Service/Method` nor `package.Service.Method`.
    case invalidMethodName(String)
    /// A type name a field or method refers to is not in the pool (usually a missing dependency).
    case unresolvedType(String, referencedFrom: String)
    /// The name resolves, but to something other than a message.
    case notAMessage(String)
    /// The name resolves, but to something other than an enum.
    case notAnEnum(String)

    /// A one-line description.
    public var description: String {
        switch self {
        case .malformedFile(let name, let reason):
            "invalid file descriptor\(name.isEmpty ? "" : " '\(name)'"): \(reason)"
        case .duplicateSymbol(let symbol, let file, let existingFile):
            "'\(symbol)' in \(file) is already defined in \(existingFile)"
        case .unknownSymbol(let symbol):
            "unknown symbol '\(symbol)'"
        case .unknownService(let service):
            "unknown service '\(service)'"
        case .unknownMethod(let service, let method, let available):
            "service '\(service)' has no method '\(method)'"
                + (available.isEmpty ? "" : " (its methods: \(available.joined(separator: ", ")))")
        case .invalidMethodName(let name):
            "'\(name)' is not a method name: expected package.Service/Method or package.Service.Method"
        case .unresolvedType(let type, let from):
            "type '\(type)' used by '\(from)' is not known (missing dependency?)"
        case .notAMessage(let name):
            "'\(name)' is not a message type"
        case .notAnEnum(let name):
            "'\(name)' is not an enum type"
        }
    }
}
