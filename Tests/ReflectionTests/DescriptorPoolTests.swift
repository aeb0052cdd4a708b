import SkyportProto
import SkyportRPC
import SkyportReflection
import Testing

/// Parsing `FileDescriptorProto`s and resolving names in a `DescriptorPool`.
@Suite struct DescriptorPoolTests {
    @Test func theRegistryFormsACompletePool() throws {
        let pool = try TestDescriptors.registryPool()
        #expect(pool.missingDependencies == [])
        #expect(pool.files.map(\.name) == ProtoFileRegistry.files.map(\.name))
        for name in ["grpc.testing.TestService", "skyport.billing.v1.Billing", "grpc.reflection.v1.ServerReflection"] {
            #expect(pool.serviceNames.contains(name))
        }
        // Every symbol the generator lists for reflection is in the pool, and only services are services.
        for file in ProtoFileRegistry.files {
            for symbol in file.symbols {
                #expect(pool.symbol(named: symbol) != nil, "\(symbol) from \(file.name)")
                #expect(pool.fileName(definingSymbol: symbol) == file.name)
            }
            #expect(pool.file(named: file.name)?.services.map(\.fullName) == file.services)
        }
    }

    @Test func messageDescriptorsCarryEveryFieldShape() throws {
        let pool = try TestDescriptors.registryPool()
        let everything = try #require(pool.message(named: ".skyport.testing.v1.Everything"))
        #expect(everything.syntax == .proto3)
        #expect(everything.fields.count == 32)
        #expect(everything.oneofNames == ["choice"])

        let int64 = try #require(everything.field(named: "int64_value"))
        #expect(int64.number == 2 && int64.type == .int64 && int64.label == .optional)
        #expect(int64.jsonName == "int64Value")
        #expect(everything.field(named: "int64Value") == int64)
        #expect(everything.field(number: 2) == int64)

        let inner = try #require(everything.field(named: "inner"))
        #expect(inner.type == .message && inner.typeName == ".skyport.testing.v1.Everything.Inner")
        #expect(everything.hasPresence(inner))
        #expect(!everything.hasPresence(int64))

        let choice = try #require(everything.field(named: "choiceNumber"))
        #expect(choice.oneofIndex == 0 && everything.hasPresence(choice))

        let counts = try #require(everything.field(named: "counts"))
        #expect(counts.isRepeated && counts.type == .message)
        let entry = try #require(pool.message(named: counts.typeName))
        #expect(entry.isMapEntry && entry.fullName == "skyport.testing.v1.Everything.CountsEntry")
        #expect(entry.field(number: 1)?.type == .string && entry.field(number: 2)?.type == .int64)

        #expect(everything.isPacked(try #require(everything.field(named: "repeatedInt64"))))
        #expect(!everything.isPacked(try #require(everything.field(named: "repeatedString"))))
        #expect(everything.fieldsByNumber.map(\.number) == everything.fields.map(\.number).sorted())

        let color = try #require(pool.enumType(named: "skyport.testing.v1.Everything.Color"))
        #expect(color.values.map(\.name) == ["COLOR_UNSPECIFIED", "COLOR_RED", "COLOR_GREEN", "COLOR_NEGATIVE"])
        #expect(color.value(number: -1)?.name == "COLOR_NEGATIVE")
        #expect(pool.message(named: "skyport.testing.v1.Everything.Color") == nil)
    }

    @Test(arguments: [
        "skyport.testing.v1.ShapeService/Bidi", "skyport.testing.v1.ShapeService.Bidi",
        "/skyport.testing.v1.ShapeService/Bidi", ".skyport.testing.v1.ShapeService.Bidi",
    ])
    func methodsResolveInEitherForm(name: String) throws {
        let pool = try TestDescriptors.registryPool()
        let resolved = try pool.method(named: name)
        #expect(resolved.service.fullName == "skyport.testing.v1.ShapeService")
        #expect(resolved.method.name == "Bidi" && resolved.method.shape == .bidirectionalStreaming)
        #expect(resolved.input.fullName == "skyport.testing.v1.Wrapper")
        #expect(resolved.output.fullName == "skyport.testing.v1.Wrapper")
        #expect(resolved.method.rpcDescriptor == Skyport_Testing_V1_ShapeServiceMethods.bidi)
        #expect(try pool.rpcDescriptor(forMethod: name).path == "/skyport.testing.v1.ShapeService/Bidi")
    }

    @Test func methodShapesComeFromTheStreamingFlags() throws {
        let pool = try TestDescriptors.registryPool()
        let shapes = try ["Unary", "ServerStream", "ClientStream", "Bidi"].map {
            try pool.method(named: "skyport.testing.v1.ShapeService/\($0)").method.shape
        }
        #expect(shapes == [.unary, .serverStreaming, .clientStreaming, .bidirectionalStreaming])
        let unary = try pool.method(named: "grpc.testing.TestService/UnaryCall")
        #expect(unary.input.fullName == "grpc.testing.SimpleRequest")
        #expect(unary.output.fullName == "grpc.testing.SimpleResponse")
    }

    @Test func unknownMethodNamesAreReportedPrecisely() throws {
        let pool = try TestDescriptors.registryPool()
        let unknownMethod = #expect(throws: DescriptorError.self) {
            try pool.method(named: "skyport.testing.v1.ShapeService/Nope")
        }
        #expect(
            unknownMethod
                == .unknownMethod(
                    service: "skyport.testing.v1.ShapeService", method: "Nope",
                    available: ["Unary", "ServerStream", "ClientStream", "Bidi"]))
        #expect(
            unknownMethod?.description
                == "service 'skyport.testing.v1.ShapeService' has no method 'Nope' (its methods: Unary, ServerStream, ClientStream, Bidi)"
        )
        #expect(throws: DescriptorError.unknownService("no.such.Service")) {
            try pool.method(named: "no.such.Service/Call")
        }
        // A message is not a service.
        #expect(throws: DescriptorError.unknownService("skyport.testing.v1.Wrapper")) {
            try pool.method(named: "skyport.testing.v1.Wrapper/Call")
        }
        for bad in ["Nope", "", "/", "a/b/c", "pkg.Service/", "/Method"] {
            #expect(throws: DescriptorError.invalidMethodName(bad)) { try pool.method(named: bad) }
        }
    }

    @Test func missingDependenciesAreReportedUntilAdded() throws {
        var pool = DescriptorPool()
        try pool.add(serializedFile: TestDescriptors.serializedFile("grpc/testing/test.proto"))
        #expect(pool.missingDependencies == ["grpc/testing/empty.proto", "grpc/testing/messages.proto"])
        #expect(pool.service(named: "grpc.testing.TestService") != nil)
        #expect(
            throws: DescriptorError.unresolvedType(
                ".grpc.testing.SimpleRequest", referencedFrom: "grpc.testing.TestService.UnaryCall")
        ) {
            try pool.method(named: "grpc.testing.TestService/UnaryCall")
        }

        try pool.add(serializedFile: TestDescriptors.serializedFile("grpc/testing/messages.proto"))
        #expect(pool.missingDependencies == ["grpc/testing/empty.proto"])
        try pool.add(serializedFile: TestDescriptors.serializedFile("grpc/testing/empty.proto"))
        #expect(pool.missingDependencies == [])
        #expect(try pool.method(named: "grpc.testing.TestService/EmptyCall").input.fullName == "grpc.testing.Empty")
    }

    @Test func aFileRedefiningANameIsRefusedAndLeavesThePoolUnchanged() throws {
        var pool = try TestDescriptors.registryPool()
        let before = pool.files.count
        // The same file again is a no-op.
        try pool.add(serializedFile: TestDescriptors.serializedFile("skyport/testing/v1/prototest.proto"))
        #expect(pool.files.count == before)

        let clash = TestDescriptors.file(
            "clash.proto", package: "skyport.testing.v1",
            messages: [TestDescriptors.message("Fresh", fields: []), TestDescriptors.message("Wrapper", fields: [])])
        #expect(
            throws: DescriptorError.duplicateSymbol(
                "skyport.testing.v1.Wrapper", file: "clash.proto", existingFile: "skyport/testing/v1/prototest.proto")
        ) {
            try pool.add(serializedFile: clash)
        }
        #expect(pool.files.count == before)
        #expect(pool.file(named: "clash.proto") == nil)
        #expect(pool.message(named: "skyport.testing.v1.Fresh") == nil)
    }

    @Test func malformedDescriptorsThrow() throws {
        let valid = try TestDescriptors.serializedFile("skyport/testing/v1/prototest.proto")
        var failures = 0
        for length in stride(from: 1, to: valid.count, by: 7) {
            do {
                _ = try FileDescriptor(serializedBytes: Array(valid.prefix(length)))
            } catch is DescriptorError {
                failures += 1
            }
        }
        // Almost every cut lands inside a nested message or a string.
        #expect(failures > valid.count / 7 / 2)

        let unknownType = TestDescriptors.file(
            "bad.proto", package: "p",
            messages: [TestDescriptors.message("M", fields: [TestDescriptors.field("f", 1, type: 99)])])
        #expect(throws: DescriptorError.malformedFile(name: "bad.proto", reason: "field 'p.M.f' has unknown type 99")) {
            try FileDescriptor(serializedBytes: unknownType)
        }
        let noName = TestDescriptors.file("", package: "p", messages: [])
        #expect(throws: DescriptorError.self) { try FileDescriptor(serializedBytes: noName) }
        #expect(throws: DescriptorError.self) { try FileDescriptor(serializedBytes: [0x0a, 0x03, 0x61, 0xff, 0x62]) }
    }

    @Test func relativeTypeNamesResolveFromTheInnermostScope() throws {
        // package a.b; message Outer { message Inner { int32 x = 1; } Inner inner = 1; }
        // message Top { Outer.Inner deep = 1; } (proto2: no syntax statement)
        let inner = TestDescriptors.message("Inner", fields: [TestDescriptors.field("x", 1, type: 5)])
        let outer = TestDescriptors.message(
            "Outer", fields: [TestDescriptors.field("inner", 1, type: 11, typeName: "Inner")], nested: [inner])
        let top = TestDescriptors.message(
            "Top",
            fields: [
                TestDescriptors.field("deep", 1, type: 11, typeName: "Outer.Inner"),
                TestDescriptors.field("my_long_field", 2, type: 5, label: 3),
            ])
        var pool = DescriptorPool()
        let file = try pool.add(
            serializedFile: TestDescriptors.file("a.proto", package: "a.b", messages: [outer, top]))
        #expect(file.syntax == .proto2)
        #expect(file.allMessageTypes.map(\.fullName) == ["a.b.Outer", "a.b.Outer.Inner", "a.b.Top"])
        #expect(pool.resolve("Inner", scope: "a.b.Outer")?.name == "a.b.Outer.Inner")
        #expect(pool.resolve("Outer.Inner", scope: "a.b.Top")?.name == "a.b.Outer.Inner")
        #expect(pool.resolve("Inner", scope: "a.b.Top") == nil)

        let topType = try #require(pool.message(named: "a.b.Top"))
        #expect(topType.field(number: 2)?.jsonName == "myLongField")
        // proto2: explicit presence (a zero is still written) and unpacked repeated scalars.
        let bytes = try pool.encode(jsonText: #"{"deep": {"x": 0}, "myLongField": [1, 2]}"#, asMessageNamed: "a.b.Top")
        #expect(bytes == [0x0a, 0x02, 0x08, 0x00, 0x10, 0x01, 0x10, 0x02])
        #expect(
            try pool.decode(bytes, as: topType)
                == .object([
                    ("deep", .object([("x", .number("0"))])), ("myLongField", .array([.number("1"), .number("2")])),
                ]))
    }
}
