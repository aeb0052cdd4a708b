import SkyportProto
import SkyportRPC
import SkyportServer
import Testing

@Suite struct ReflectionServiceTests {
    typealias Request = Grpc_Reflection_V1_ServerReflectionRequest
    typealias Response = Grpc_Reflection_V1_ServerReflectionResponse

    static let routed = ["echo.Echo", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"]

    /// Sends `requests` on one v1 ServerReflectionInfo call and returns the responses.
    static func exchange(_ requests: [Request]) async throws -> [Response] {
        let reflection = ReflectionService(serviceNames: Self.routed)
        let provider = try #require(
            reflection.providers.first { $0.methods.first?.descriptor.service == "grpc.reflection.v1.ServerReflection" }
        )
        let method = try #require(provider.method(Grpc_Reflection_V1_ServerReflectionMethods.serverReflectionInfo))
        let stream = FakeServerCallStream()
        for request in requests { stream.push(request.serializedBytes()) }
        stream.closeRequests()
        await method.run(on: stream)
        #expect(stream.status?.code == .ok)
        var responses: [Response] = []
        for await bytes in stream.sent { responses.append(try Response(serializedBytes: bytes)) }
        return responses
    }

    static func request(_ kind: Request.OneOf_MessageRequest) -> Request {
        var request = Request()
        request.host = "localhost"
        request.messageRequest = kind
        return request
    }

    /// The `name` (field 1) of a serialized FileDescriptorProto, read straight off the wire.
    static func fileName(_ bytes: [UInt8]) -> String? {
        guard bytes.count > 2, bytes[0] == 0x0a, bytes[1] < 0x80, bytes.count >= 2 + Int(bytes[1]) else { return nil }
        return String(decoding: bytes[2..<(2 + Int(bytes[1]))], as: UTF8.self)
    }

    static func fileNames(_ response: Response) -> [String]? {
        guard case .fileDescriptorResponse(let files)? = response.messageResponse else { return nil }
        return files.fileDescriptorProto.map { Self.fileName($0) ?? "?" }
    }

    @Test func listServicesAnswersTheRoutedServices() async throws {
        let responses = try await Self.exchange([Self.request(.listServices(""))])
        #expect(responses.count == 1)
        guard case .listServicesResponse(let list)? = responses.first?.messageResponse else {
            Issue.record("expected a list_services_response, got \(responses)")
            return
        }
        #expect(list.service.map(\.name) == Self.routed)
        #expect(responses.first?.validHost == "localhost")
        #expect(responses.first?.originalRequest == Self.request(.listServices("")))
    }

    @Test func fileByFilenameReturnsTheFileThenItsImports() async throws {
        let responses = try await Self.exchange([
            Self.request(.fileByFilename("grpc/health/v1/health.proto")),
            Self.request(.fileByFilename("grpc/testing/test.proto")),
        ])
        #expect(responses.count == 2)
        #expect(Self.fileNames(responses[0]) == ["grpc/health/v1/health.proto"])
        #expect(
            Self.fileNames(responses[1]) == [
                "grpc/testing/test.proto", "grpc/testing/empty.proto", "grpc/testing/messages.proto",
            ])
    }

    @Test(arguments: [
        ("grpc.testing.TestService", "grpc/testing/test.proto"),
        ("grpc.testing.TestService.FullDuplexCall", "grpc/testing/test.proto"),
        ("grpc.testing.SimpleRequest", "grpc/testing/messages.proto"),
        ("grpc.testing.LoadBalancerStatsResponse.RpcsByPeer", "grpc/testing/messages.proto"),
        ("grpc.testing.PayloadType", "grpc/testing/messages.proto"),
        ("grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"),
        (".echo.Echo", "echo/echo.proto"),
    ])
    func fileContainingSymbolFindsTheDefiningFile(symbol: String, file: String) async throws {
        let responses = try await Self.exchange([Self.request(.fileContainingSymbol(symbol))])
        #expect(Self.fileNames(responses[0])?.first == file)
    }

    @Test func dependencyClosureListsEachFileOnce() async throws {
        let responses = try await Self.exchange([Self.request(.fileContainingSymbol("grpc.testing.TestService"))])
        let names = try #require(Self.fileNames(responses[0]))
        #expect(Set(names) == ["grpc/testing/test.proto", "grpc/testing/empty.proto", "grpc/testing/messages.proto"])
        #expect(names.count == 3)
        #expect(names.first == "grpc/testing/test.proto")
    }

    @Test func unknownNamesAndExtensionsAnswerNotFound() async throws {
        var extensionRequest = Grpc_Reflection_V1_ExtensionRequest()
        extensionRequest.containingType = "grpc.testing.SimpleRequest"
        extensionRequest.extensionNumber = 100
        let responses = try await Self.exchange([
            Self.request(.fileByFilename("no/such.proto")),
            Self.request(.fileContainingSymbol("no.Such")),
            Self.request(.fileContainingExtension(extensionRequest)),
            Self.request(.allExtensionNumbersOfType("grpc.testing.SimpleRequest")),
            Self.request(.listServices("")),  // the stream keeps working after errors
        ])
        #expect(responses.count == 5)
        for response in responses.prefix(4) {
            guard case .errorResponse(let error)? = response.messageResponse else {
                Issue.record("expected an error_response, got \(response)")
                continue
            }
            #expect(error.errorCode == 5)
            #expect(!error.errorMessage.isEmpty)
        }
        guard case .listServicesResponse? = responses[4].messageResponse else {
            Issue.record("expected a list_services_response")
            return
        }
    }

    @Test func v1AlphaAnswersLikeV1() async throws {
        let reflection = ReflectionService(serviceNames: Self.routed)
        let provider = try #require(
            reflection.providers.first {
                $0.methods.first?.descriptor.service == "grpc.reflection.v1alpha.ServerReflection"
            })
        let method = try #require(
            provider.method(Grpc_Reflection_V1alpha_ServerReflectionMethods.serverReflectionInfo))
        let stream = FakeServerCallStream()
        var request = Grpc_Reflection_V1alpha_ServerReflectionRequest()
        request.messageRequest = .fileContainingSymbol("echo.Echo.Unary")
        stream.push(request.serializedBytes())
        stream.closeRequests()
        await method.run(on: stream)
        var responses = stream.sent.makeAsyncIterator()
        let response = try #require(
            try await responses.next().map { try Grpc_Reflection_V1alpha_ServerReflectionResponse(serializedBytes: $0) }
        )
        guard case .fileDescriptorResponse(let files)? = response.messageResponse else {
            Issue.record("expected a file_descriptor_response, got \(response)")
            return
        }
        #expect(files.fileDescriptorProto.map { Self.fileName($0) } == ["echo/echo.proto"])
    }

    @Test func everyRegisteredImportIsRegistered() {
        let names = Set(ProtoFileRegistry.files.map(\.name))
        for file in ProtoFileRegistry.files {
            for dependency in file.dependencies {
                #expect(names.contains(dependency), "\(file.name) imports unregistered \(dependency)")
            }
            #expect(Self.fileName(file.serialized) == file.name)
        }
        #expect(names.contains("grpc/reflection/v1alpha/reflection.proto"))
    }
}
