public import SkyportRPC

/// A set of parsed proto files with their definitions indexed by fully-qualified name.
///
/// Files may be added in any order; `missingDependencies` says which imported files are still absent
/// (a reflection client asks the server for those by name). Names are accepted with or without the
/// leading dot descriptors use.
public struct DescriptorPool: Sendable {
    /// A definition found by name.
    public enum Symbol: Sendable, Hashable {
        /// A message type.
        case message(MessageDescriptor)
        /// An enum type.
        case enumType(EnumDescriptor)
        /// A service.
        case service(ServiceDescriptor)
        /// A method of a service.
        case method(ServiceDescriptor.Method)
    }

    /// A method with its service and resolved request and response types.
    public struct ResolvedMethod: Sendable, Hashable {
        /// The service.
        public var service: ServiceDescriptor
        /// The method.
        public var method: ServiceDescriptor.Method
        /// The request message type.
        public var input: MessageDescriptor
        /// The response message type.
        public var output: MessageDescriptor
    }

    private var filesByName: [String: FileDescriptor] = [:]
    private var fileOrder: [String] = []
    private var symbols: [String: Symbol] = [:]
    private var symbolFiles: [String: String] = [:]

    /// An empty pool.
    public init() {}

    /// A pool of serialized `FileDescriptorProto`s.
    ///
    /// - Throws: `DescriptorError` when a file is malformed or redefines a name.
    public init(serializedFiles: some Sequence<[UInt8]>) throws {
        for bytes in serializedFiles { try self.add(serializedFile: bytes) }
    }

    /// The files, in the order they were added.
    public var files: [FileDescriptor] { self.fileOrder.compactMap { self.filesByName[$0] } }

    /// The file with this import path.
    public func file(named name: String) -> FileDescriptor? { self.filesByName[name] }

    /// Parses and adds a serialized `FileDescriptorProto`; a file already in the pool under the same
    /// name is left as it is.
    ///
    /// - Returns: the parsed file.
    /// - Throws: `DescriptorError` when the bytes are malformed or the file redefines a name.
    @discardableResult
    public mutating func add(serializedFile bytes: [UInt8]) throws -> FileDescriptor {
        let file = try FileDescriptor(serializedBytes: bytes)
        try self.add(file)
        return file
    }

    /// Adds a parsed file; a file already in the pool under the same name is left as it is.
    ///
    /// - Throws: `DescriptorError.duplicateSymbol` when the file defines a name another file defines.
    public mutating func add(_ file: FileDescriptor) throws {
        guard self.filesByName[file.name] == nil else { return }
        var entries: [(String, Symbol)] = []
        entries += file.allMessageTypes.map { ($0.fullName, .message($0)) }
        entries += file.allEnumTypes.map { ($0.fullName, .enumType($0)) }
        for service in file.services {
            entries.append((service.fullName, .service(service)))
            entries += service.methods.map { ($0.fullName, .method($0)) }
        }
        // Check everything first, so that a failing file leaves the pool unchanged.
        var seen: Set<String> = []
        for (name, _) in entries {
            if let existing = self.symbolFiles[name] {
                throw DescriptorError.duplicateSymbol(name, file: file.name, existingFile: existing)
            }
            guard seen.insert(name).inserted else {
                throw DescriptorError.duplicateSymbol(name, file: file.name, existingFile: file.name)
            }
        }
        for (name, symbol) in entries {
            self.symbols[name] = symbol
            self.symbolFiles[name] = file.name
        }
        self.filesByName[file.name] = file
        self.fileOrder.append(file.name)
    }

    /// Files imported by files in the pool but not in it yet, sorted.
    public var missingDependencies: [String] {
        let needed = Set(self.filesByName.values.flatMap(\.dependencies))
        return needed.filter { self.filesByName[$0] == nil }.sorted()
    }

    /// The fully-qualified names of every service in the pool, sorted.
    public var serviceNames: [String] {
        self.files.flatMap(\.services).map(\.fullName).sorted()
    }

    /// The definition called `name` (`package.Type`, `package.Service`, `package.Service.Method`).
    public func symbol(named name: String) -> Symbol? {
        self.symbols[Self.stripDot(name)]
    }

    /// The import path of the file that defines `name`.
    public func fileName(definingSymbol name: String) -> String? {
        self.symbolFiles[Self.stripDot(name)]
    }

    /// The message type called `name`.
    public func message(named name: String) -> MessageDescriptor? {
        guard case .message(let message) = self.symbol(named: name) else { return nil }
        return message
    }

    /// The enum type called `name`.
    public func enumType(named name: String) -> EnumDescriptor? {
        guard case .enumType(let enumType) = self.symbol(named: name) else { return nil }
        return enumType
    }

    /// The service called `name`.
    public func service(named name: String) -> ServiceDescriptor? {
        guard case .service(let service) = self.symbol(named: name) else { return nil }
        return service
    }

    /// Splits `package.Service/Method`, `/package.Service/Method` or `package.Service.Method` into
    /// the service's full name and the method name; `nil` for any other shape.
    public static func splitMethodName(_ name: String) -> (service: String, method: String)? {
        var text = Substring(name)
        if text.hasPrefix("/") { text = text.dropFirst() }
        if text.hasPrefix(".") { text = text.dropFirst() }
        let separator: Character = text.contains("/") ? "/" : "."
        guard let index = text.lastIndex(of: separator) else { return nil }
        let service = text[..<index]
        let method = text[text.index(after: index)...]
        guard !service.isEmpty, !method.isEmpty, !service.contains("/"), !method.contains("."),
            !service.hasPrefix("."), !service.hasSuffix(".")
        else { return nil }
        return (String(service), String(method))
    }

    /// The method named `package.Service/Method` or `package.Service.Method`, with its request and
    /// response types.
    ///
    /// - Throws: `DescriptorError.invalidMethodName`, `.unknownService`, `.unknownMethod`, or
    ///   `.unresolvedType` when a request or response type is missing from the pool.
    public func method(named name: String) throws -> ResolvedMethod {
        guard let (serviceName, methodName) = Self.splitMethodName(name) else {
            throw DescriptorError.invalidMethodName(name)
        }
        guard let service = self.service(named: serviceName) else {
            throw DescriptorError.unknownService(serviceName)
        }
        guard let method = service.method(named: methodName) else {
            throw DescriptorError.unknownMethod(
                service: service.fullName, method: methodName, available: service.methods.map(\.name))
        }
        return ResolvedMethod(
            service: service, method: method,
            input: try self.resolveMessage(method.inputType, scope: service.fullName, from: method.fullName),
            output: try self.resolveMessage(method.outputType, scope: service.fullName, from: method.fullName))
    }

    /// The RPC descriptor (`/package.Service/Method`) for a method name in either form.
    ///
    /// - Throws: like `method(named:)`.
    public func rpcDescriptor(forMethod name: String) throws -> SkyportRPC.MethodDescriptor {
        try self.method(named: name).method.rpcDescriptor
    }

    /// Resolves a type name as written in a descriptor: `.a.b.C` is absolute; a relative name is looked
    /// up from the innermost enclosing scope outwards, as protoc does.
    ///
    /// - Parameters:
    ///   - typeName: the name to resolve.
    ///   - scope: the fully-qualified name of the message or service that uses it.
    /// - Returns: the definition and its fully-qualified name, or `nil`.
    public func resolve(_ typeName: String, scope: String) -> (name: String, symbol: Symbol)? {
        if typeName.hasPrefix(".") {
            let name = String(typeName.dropFirst())
            return self.symbols[name].map { (name, $0) }
        }
        var components = scope.split(separator: ".").map(String.init)
        while true {
            let candidate = (components + [typeName]).joined(separator: ".")
            if let symbol = self.symbols[candidate] { return (candidate, symbol) }
            guard !components.isEmpty else { return nil }
            components.removeLast()
        }
    }

    /// The message type a field or method refers to.
    func resolveMessage(_ typeName: String, scope: String, from user: String) throws -> MessageDescriptor {
        guard let (name, symbol) = self.resolve(typeName, scope: scope) else {
            throw DescriptorError.unresolvedType(typeName, referencedFrom: user)
        }
        guard case .message(let message) = symbol else { throw DescriptorError.notAMessage(name) }
        return message
    }

    /// The enum type a field refers to.
    func resolveEnum(_ typeName: String, scope: String, from user: String) throws -> EnumDescriptor {
        guard let (name, symbol) = self.resolve(typeName, scope: scope) else {
            throw DescriptorError.unresolvedType(typeName, referencedFrom: user)
        }
        guard case .enumType(let enumType) = symbol else { throw DescriptorError.notAnEnum(name) }
        return enumType
    }

    private static func stripDot(_ name: String) -> String {
        name.hasPrefix(".") ? String(name.dropFirst()) : name
    }
}
