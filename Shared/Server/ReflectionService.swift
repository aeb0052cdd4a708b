public import SkyportProto
public import SkyportRPC

/// Server reflection, `grpc.reflection.v1.ServerReflection` and its predecessor
/// `grpc.reflection.v1alpha.ServerReflection`, over the files in `ProtoFileRegistry`.
///
/// Register `providers` (one per protocol version) with the router. Both answer from one index:
/// the services the server routes, and every registered file by name and by the symbols it defines.
public struct ReflectionService: Sendable {
    /// The names of the services the providers serve.
    public static let serviceNames = [
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ]

    let index: ReflectionIndex

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - serviceNames: what `list_services` answers: the services the server actually routes.
    ///   - files: the files reflection can describe; every import of a file must be among them.
    public init(serviceNames: [String], files: [ProtoFileDescriptor] = ProtoFileRegistry.files) {
        self.index = ReflectionIndex(serviceNames: serviceNames, files: files)
    }

    /// The v1 and v1alpha providers, to register with the router.
    public var providers: [any RPCService] {
        [
            ReflectionV1Provider(index: self.index),
            ReflectionV1AlphaProvider(v1: ReflectionV1Provider(index: self.index)),
        ]
    }
}

/// One reflection request, independent of the protocol version it arrived in.
enum ReflectionQuery: Sendable, Hashable {
    case fileByFilename(String)
    case fileContainingSymbol(String)
    case fileContainingExtension(containingType: String, number: Int32)
    case allExtensionNumbersOfType(String)
    case listServices
    case missing
}

/// The answer to a `ReflectionQuery`, independent of the protocol version.
enum ReflectionAnswer: Sendable, Hashable {
    /// Serialized FileDescriptorProtos: the requested file first, then its transitive imports.
    case files([[UInt8]])
    case services([String])
    case error(code: Status.Code, message: String)
}

/// Files by name and by symbol, and the routed service names.
struct ReflectionIndex: Sendable {
    let serviceNames: [String]
    private let filesByName: [String: ProtoFileDescriptor]
    private let fileNameBySymbol: [String: String]

    init(serviceNames: [String], files: [ProtoFileDescriptor]) {
        self.serviceNames = serviceNames
        var filesByName: [String: ProtoFileDescriptor] = [:]
        var fileNameBySymbol: [String: String] = [:]
        for file in files {
            filesByName[file.name] = file
            for symbol in file.symbols {
                fileNameBySymbol[symbol] = file.name
            }
        }
        self.filesByName = filesByName
        self.fileNameBySymbol = fileNameBySymbol
    }

    func answer(_ query: ReflectionQuery) -> ReflectionAnswer {
        switch query {
        case .fileByFilename(let name):
            guard self.filesByName[name] != nil else {
                return .error(code: .notFound, message: "File not found: \(name)")
            }
            return .files(self.closure(of: name))
        case .fileContainingSymbol(let symbol):
            // Clients sometimes send the descriptor form with a leading dot.
            let name = symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol
            guard let file = self.fileNameBySymbol[name] else {
                return .error(code: .notFound, message: "Symbol not found: \(symbol)")
            }
            return .files(self.closure(of: file))
        case .fileContainingExtension(let containingType, let number):
            return .error(code: .notFound, message: "Extension not found: \(containingType)(\(number))")
        case .allExtensionNumbersOfType(let type):
            return .error(code: .notFound, message: "Type has no extensions: \(type)")
        case .listServices:
            return .services(self.serviceNames)
        case .missing:
            return .error(code: .invalidArgument, message: "Request sets none of the message_request fields")
        }
    }

    /// `name` and every file it imports, transitively, each once, `name` first.
    private func closure(of name: String) -> [[UInt8]] {
        var visited: Set<String> = []
        var result: [[UInt8]] = []
        var pending = [name]
        while let next = pending.popLast() {
            guard visited.insert(next).inserted, let file = self.filesByName[next] else { continue }
            result.append(file.serialized)
            pending.append(contentsOf: file.dependencies.reversed())
        }
        return result
    }
}
