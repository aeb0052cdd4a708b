import ArgumentParser
import Foundation
import Logging
import SkyportHTTP2
import SkyportProto
import SkyportRPC
import SkyportReflection

/// `skyport call`: invokes any method of any gRPC service by name, JSON in and JSON out, with the types
/// learnt from the server's reflection service (the way grpcurl works).
///
/// Its helpers: `ReflectionClient` / `ReflectionSession` (descriptors from the server), `SymbolDescriber`
/// (`--describe`), `CallFailure` (errors that are not statuses).
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a gRPC method by name with JSON in and out, through server reflection.",
        discussion: """
            TARGET is host:port or the name of an instance of the suite started by `skyport up`. Without \
            METHOD, lists the server's services; with --describe, shows a service, method, message or enum.

            The request is the JSON argument, or -d @FILE, or -d - (standard input); default {}. Client-streaming \
            and bidirectional methods take a JSON array of messages, or one message per line. Responses are \
            printed as JSON on standard output, streamed ones as they arrive.

            Mutual TLS by default, with DIR/ca.pem, DIR/skyport.pem and DIR/skyport-key.pem (from \
            `skyport dev-ca`); DIR is --tls-dir, else the suite's TLS directory. --plaintext uses h2c.

            Exit status: 0 on success; 64 + the gRPC status code when the call ends with a status other \
            than OK (e.g. 69 for NOT_FOUND), with the status on standard error; 2 for bad input (unparseable \
            JSON, unknown field or method); 1 for other local failures.
            """)

    @Argument(help: "host:port, or the name of an instance of the running suite.")
    var target: String

    @Argument(help: "package.Service/Method or package.Service.Method; without it, list the services.")
    var method: String?

    @Argument(help: "The request message as JSON (default {}).")
    var json: String?

    @Option(
        name: [.customShort("d"), .customLong("data")], help: "The request: JSON text, @FILE, or - for standard input.")
    var data: String?

    @Option(name: [.customShort("H"), .customLong("header")], help: "Request metadata as 'name: value' (repeatable).")
    var headers: [String] = []

    @Option(name: .long, help: ArgumentHelp("Describe a service, method, message or enum.", valueName: "symbol"))
    var describe: String?

    @Flag(name: .long, help: "Cleartext HTTP/2 (h2c) instead of mutual TLS.")
    var plaintext = false

    @Option(name: .customLong("tls-dir"), help: "Directory with ca.pem, skyport.pem and skyport-key.pem.")
    var tlsDirectory: String?

    @Option(name: .customLong("server-name"), help: "The name to verify the server certificate against.")
    var serverName: String?

    @Option(
        name: .customLong("state-dir"), help: "The suite's state directory (default $SKYPORT_STATE_DIR or ./.skyport).")
    var stateDirectory: String?

    @Option(name: .long, help: "Seconds the call may take (reflection gets as long again).")
    var timeout: Double = 10

    func run() async throws {
        let status = await self.execute()
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs the command and returns the exit status; everything the user sees about a failure is printed here.
    private func execute() async -> Int32 {
        let transport: HTTP2ClientTransport
        let request: CallRequest
        do {
            request = try self.prepare()
            transport = try HTTP2ClientTransport(
                host: request.host, port: request.port, configuration: request.configuration,
                logger: Logger(label: "skyport.call", factory: { _ in SwiftLogNoOpLogHandler() }))
        } catch {
            return Self.report(error)
        }
        let status: Int32
        do {
            try await self.perform(request, client: RPCClient(transport: transport))
            status = 0
        } catch {
            status = Self.report(error)
        }
        await transport.close()
        return status
    }

    // MARK: Input

    /// Everything the command needs before it connects; building it checks all local input.
    private struct CallRequest {
        var host: String
        var port: Int
        var configuration: HTTP2ClientConfiguration
        var metadata: Metadata
        var timeout: Duration
        /// The request messages as JSON values (only for a call).
        var messages: [JSONValue]
        /// Whether the input was one JSON array (so a unary call can say so).
        var inputWasArray: Bool
    }

    private func prepare() throws -> CallRequest {
        guard self.timeout.isFinite, self.timeout > 0 else {
            throw CallFailure.badInput("--timeout must be a positive number of seconds")
        }
        if self.describe != nil, self.method != nil || self.json != nil || self.data != nil {
            throw CallFailure.badInput("--describe takes no METHOD or request")
        }
        if self.method == nil, self.json != nil || self.data != nil {
            throw CallFailure.badInput("a request needs a METHOD")
        }
        let metadata = try Self.metadata(from: self.headers)
        var messages: [JSONValue] = []
        var inputWasArray = false
        if self.method != nil {
            (messages, inputWasArray) = try self.readMessages()
        }
        let (host, port, suiteTLS, identity) = try self.resolveTarget()
        var configuration = HTTP2ClientConfiguration()
        configuration.tls = try self.clientTLS(suiteDirectory: suiteTLS, expectedServerIdentity: identity)
        return CallRequest(
            host: host, port: port, configuration: configuration, metadata: metadata, timeout: .seconds(self.timeout),
            messages: messages, inputWasArray: inputWasArray)
    }

    /// `-H 'name: value'` lines as metadata. Values are never echoed: they are often credentials.
    private static func metadata(from headers: [String]) throws -> Metadata {
        var metadata = Metadata()
        for (position, header) in headers.enumerated() {
            guard let colon = header.firstIndex(of: ":") else {
                throw CallFailure.badInput("-H #\(position + 1) is not of the form 'name: value'")
            }
            let key = header[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard Metadata.isValidKey(key) else {
                throw CallFailure.badInput("-H #\(position + 1): '\(key)' is not a valid metadata name ([0-9a-z_.-])")
            }
            guard !Metadata.isReservedKey(key) else {
                throw CallFailure.badInput("-H: '\(key)' is reserved for the transport")
            }
            if Metadata.isBinaryKey(key) {
                guard let bytes = Base64.decode(value) else {
                    throw CallFailure.badInput("-H: the value of '\(key)' must be base64 (a -bin key)")
                }
                metadata.add(key, binary: bytes)
            } else {
                guard Metadata.isValidASCIIValue(value) else {
                    throw CallFailure.badInput("-H: the value of '\(key)' must be printable ASCII")
                }
                metadata.add(key, value)
            }
        }
        return metadata
    }

    /// The request text (argument, `-d @FILE`, `-d -`, or `{}`) as JSON values: the elements of a
    /// top-level array, or the values one after another (JSON lines).
    private func readMessages() throws -> ([JSONValue], Bool) {
        if self.json != nil, self.data != nil {
            throw CallFailure.badInput("give the request either as an argument or with -d, not both")
        }
        let text: String
        let source: String
        switch self.data {
        case nil:
            text = self.json ?? "{}"
            source = "the request"
        case "-":
            text = try Self.utf8(FileHandle.standardInput.readDataToEndOfFile(), source: "standard input")
            source = "standard input"
        case let data? where data.hasPrefix("@"):
            let path = String(data.dropFirst())
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw CallFailure.badInput("cannot read the request file '\(path)'")
            }
            text = try Self.utf8(contents, source: path)
            source = path
        case let data?:
            text = data
            source = "the request"
        }
        let values: [JSONValue]
        do {
            values = try JSONValue.parseSequence(text)
        } catch {
            throw CallFailure.badInput("\(source) is not valid JSON: \(error)")
        }
        if values.count == 1, case .array(let elements) = values[0] { return (elements, true) }
        return (values, false)
    }

    private static func utf8(_ data: Data, source: String) throws -> String {
        guard let text = String(data: data, encoding: .utf8) else {
            throw CallFailure.badInput("\(source) is not UTF-8 text")
        }
        return text
    }

    /// `host:port` as given, or the address of a suite instance (with the suite's TLS directory and the
    /// identity its certificate must carry: its executable's name).
    private func resolveTarget() throws -> (host: String, port: Int, suiteTLS: String?, identity: String?) {
        if let (host, port) = splitAddress(self.target) { return (host, port, nil, nil) }
        let directory = SuiteState.directory(self.stateDirectory)
        let state: SuiteState?
        do {
            state = try SuiteState.load(from: directory)
        } catch {
            throw CallFailure.local("cannot read \(SuiteState.file(in: directory)): \(error)")
        }
        guard let state else {
            throw CallFailure.badInput(
                "'\(self.target)' is not host:port, and no suite is running in \(directory) "
                    + "(start one with `skyport up`, or pass --state-dir)")
        }
        guard let instance = state.instance(named: self.target) else {
            throw CallFailure.badInput(
                "the suite in \(directory) has no instance '\(self.target)' "
                    + "(instances: \(state.instances.map(\.name).joined(separator: ", ")))")
        }
        guard let (host, port) = splitAddress(instance.address) else {
            throw CallFailure.local("instance '\(instance.name)' has an invalid address '\(instance.address)'")
        }
        return (host, port, state.tlsDirectory, instance.executable)
    }

    /// Mutual TLS with this tool's identity (`skyport`), or `nil` for `--plaintext`.
    private func clientTLS(suiteDirectory: String?, expectedServerIdentity: String?) throws -> ClientTLS? {
        if self.plaintext {
            guard self.tlsDirectory == nil else {
                throw CallFailure.badInput("--plaintext and --tls-dir exclude each other")
            }
            return nil
        }
        guard let directory = self.tlsDirectory ?? suiteDirectory else {
            throw CallFailure.badInput(
                "mutual TLS needs --tls-dir DIR (ca.pem, skyport.pem and skyport-key.pem from "
                    + "`skyport dev-ca --dir DIR`); use --plaintext for h2c")
        }
        let paths = ["ca.pem", "skyport.pem", "skyport-key.pem"].map { directory + "/" + $0 }
        for path in paths where !FileManager.default.isReadableFile(atPath: path) {
            throw CallFailure.badInput("cannot read \(path) (create it with `skyport dev-ca --dir \(directory)`)")
        }
        return ClientTLS(
            trustRootsPath: paths[0], certificateChainPath: paths[1], privateKeyPath: paths[2],
            serverHostname: self.serverName, expectedServerIdentity: expectedServerIdentity)
    }

    // MARK: Reflection and the call

    private func perform(_ request: CallRequest, client: RPCClient) async throws {
        let reflection = ReflectionClient(client: client, metadata: request.metadata, timeout: request.timeout)
        if let symbol = self.describe {
            let text = try await reflection.withSession { session in
                var pool = DescriptorPool()
                let name = symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol
                // Some servers (grpcio) do not index methods as symbols: then ask for the service's file.
                let asMethod = DescriptorPool.splitMethodName(name)
                var found = try await session.loadFile(containing: name, into: &pool)
                if !found, let (service, _) = asMethod {
                    found = try await session.loadFile(containing: service, into: &pool)
                }
                guard found else { throw CallFailure.badInput("the server does not know the symbol '\(symbol)'") }
                try await session.loadMissingDependencies(into: &pool)
                let resolvedName =
                    pool.symbol(named: name) == nil ? asMethod.map { "\($0.service).\($0.method)" } ?? name : name
                return try SymbolDescriber(pool: pool).describe(resolvedName)
            }
            Self.write(text + "\n")
            return
        }
        guard let methodName = self.method else {
            let services = try await reflection.withSession { try await $0.listServices() }
            Self.write(services.sorted().map { $0 + "\n" }.joined())
            return
        }
        guard let (serviceName, _) = DescriptorPool.splitMethodName(methodName) else {
            throw CallFailure.badInput(DescriptorError.invalidMethodName(methodName).description)
        }
        let (pool, method) = try await reflection.withSession { session in
            var pool = DescriptorPool()
            guard try await session.loadFile(containing: serviceName, into: &pool) else {
                // A service name instead of a method: say which methods it has.
                if try await session.loadFile(containing: methodName, into: &pool),
                    let service = pool.service(named: methodName)
                {
                    throw CallFailure.badInput(
                        "'\(methodName)' is a service, not a method (its methods: "
                            + service.methods.map(\.name).joined(separator: ", ") + ")")
                }
                let services = try await session.listServices().sorted()
                throw CallFailure.badInput(
                    "the server has no service '\(serviceName)' (its services: \(services.joined(separator: ", ")))")
            }
            try await session.loadMissingDependencies(into: &pool)
            do {
                return (pool, try pool.method(named: methodName))
            } catch let error as DescriptorError {
                switch error {
                case .unknownMethod, .unknownService, .invalidMethodName: throw CallFailure.badInput(error.description)
                default: throw CallFailure.local("cannot use \(methodName): \(error)")
                }
            }
        }
        try await self.call(method, pool: pool, request: request, client: client)
    }

    private func call(
        _ method: DescriptorPool.ResolvedMethod, pool: DescriptorPool, request: CallRequest, client: RPCClient
    ) async throws {
        let shape = method.method.shape
        let streamsRequests = shape == .clientStreaming || shape == .bidirectionalStreaming
        if !streamsRequests {
            guard !request.inputWasArray else {
                throw CallFailure.badInput("\(method.method.fullName) takes one request message, not a JSON array")
            }
            guard request.messages.count == 1 else {
                throw CallFailure.badInput(
                    "\(method.method.fullName) takes one request message, got \(request.messages.count)")
            }
        }
        let requests = try request.messages.enumerated().map { position, message in
            do {
                return RawMessage(bytes: try pool.encode(message, as: method.input))
            } catch let error as ProtoJSONError {
                let which = streamsRequests ? "request \(position + 1) " : "request "
                throw CallFailure.badInput("invalid \(which)(\(method.input.fullName)): \(error)")
            }
        }
        let output = method.output
        let show = { (response: RawMessage) throws in
            let json: JSONValue
            do {
                json = try pool.decode(response.bytes, as: output)
            } catch {
                throw CallFailure.local("cannot decode the response as \(output.fullName): \(error)")
            }
            Self.write(json.formatted(indent: 2) + "\n")
        }
        let descriptor = method.method.rpcDescriptor
        let options = CallOptions(timeout: request.timeout)
        switch shape {
        case .unary:
            let response = try await client.unary(
                descriptor, request: requests[0], metadata: request.metadata, options: options,
                responseType: RawMessage.self)
            try show(response.message)
        case .serverStreaming:
            try await client.serverStreaming(
                descriptor, request: requests[0], metadata: request.metadata, options: options,
                responseType: RawMessage.self
            ) { responses in
                for try await response in responses { try show(response) }
            }
        case .clientStreaming:
            let response = try await client.clientStreaming(
                descriptor, metadata: request.metadata, options: options, requestType: RawMessage.self,
                responseType: RawMessage.self
            ) { writer in
                for message in requests { try await writer.write(message) }
            }
            try show(response.message)
        case .bidirectionalStreaming:
            try await client.bidirectional(
                descriptor, metadata: request.metadata, options: options, requestType: RawMessage.self,
                responseType: RawMessage.self
            ) { call in
                // Write and read at once: a server may answer each request before reading the next.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for message in requests { try await call.write(message) }
                        call.finishWriting()
                    }
                    for try await response in call.responses { try show(response) }
                    try await group.waitForAll()
                }
            }
        }
    }

    // MARK: Output

    private static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    private static func writeError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Prints a failure on standard error and returns the exit status for it.
    private static func report(_ error: any Error) -> Int32 {
        switch error {
        case let error as RPCError:
            // grpcurl's format and exit codes, so that scripts can tell statuses apart.
            Self.writeError("ERROR:\n  Code: \(Self.statusName(error.code))\n  Message: \(error.message)\n")
            return 64 + Int32(error.code.rawValue)
        case CallFailure.badInput(let message):
            Self.writeError("error: \(message)\n")
            return 2
        case CallFailure.local(let message):
            Self.writeError("error: \(message)\n")
            return 1
        default:
            Self.writeError("error: \(error)\n")
            return 1
        }
    }

    /// The status name as grpcurl (Go's `codes.Code`) prints it, e.g. `NotFound`.
    static func statusName(_ code: Status.Code) -> String {
        switch code {
        case .ok: "OK"
        case .cancelled: "Canceled"
        case .unknown: "Unknown"
        case .invalidArgument: "InvalidArgument"
        case .deadlineExceeded: "DeadlineExceeded"
        case .notFound: "NotFound"
        case .alreadyExists: "AlreadyExists"
        case .permissionDenied: "PermissionDenied"
        case .resourceExhausted: "ResourceExhausted"
        case .failedPrecondition: "FailedPrecondition"
        case .aborted: "Aborted"
        case .outOfRange: "OutOfRange"
        case .unimplemented: "Unimplemented"
        case .internal: "Internal"
        case .unavailable: "Unavailable"
        case .dataLoss: "DataLoss"
        case .unauthenticated: "Unauthenticated"
        }
    }
}
