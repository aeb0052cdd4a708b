import SkyportProto
import SkyportReflection
import Testing

/// Bytes written by the generated (protobuf-c) types, shown as JSON dynamically.
@Suite struct BinaryToJSONTests {
    typealias Everything = Skyport_Testing_V1_Everything

    static func json(_ message: Everything) throws -> String {
        try TestDescriptors.registryPool().jsonText(
            decoding: message.serializedBytes(), asMessageNamed: Everything.protoMessageName)
    }

    @Test func everyFieldShapeDecodesToTheCanonicalJSON() throws {
        #expect(try Self.json(JSONToBinaryTests.full()) == JSONToBinaryTests.fullJSON)
    }

    @Test func jsonRoundTripsThroughBinary() throws {
        let pool = try TestDescriptors.registryPool()
        let name = Everything.protoMessageName
        let bytes = try pool.encode(jsonText: JSONToBinaryTests.fullJSON, asMessageNamed: name)
        #expect(try pool.jsonText(decoding: bytes, asMessageNamed: name) == JSONToBinaryTests.fullJSON)
        // Alternative input forms come back in canonical form.
        let loose = #"{"int64_value": 5, "bytes_value": "_w", "color": 1, "choice_number": 0}"#
        let canonical = try pool.jsonText(
            decoding: pool.encode(jsonText: loose, asMessageNamed: name), asMessageNamed: name)
        #expect(
            canonical
                == "{\n  \"int64Value\": \"5\",\n  \"bytesValue\": \"/w==\",\n  \"color\": \"COLOR_RED\",\n  \"choiceNumber\": 0\n}"
        )
    }

    @Test func anEmptyMessageIsAnEmptyObject() throws {
        #expect(try Self.json(Everything()) == "{}")
        var zeroes = Everything()
        zeroes.inner = Everything.Inner()
        zeroes.choice = .choiceText("")
        #expect(try Self.json(zeroes) == "{\n  \"inner\": {},\n  \"choiceText\": \"\"\n}")
    }

    @Test func unknownEnumNumbersArePrintedAsNumbers() throws {
        var message = Everything()
        message.color = .unrecognized(77)
        message.repeatedColor = [.unrecognized(-9), .red]
        #expect(
            try Self.json(message) == "{\n  \"color\": 77,\n  \"repeatedColor\": [\n    -9,\n    \"COLOR_RED\"\n  ]\n}")
    }

    @Test func floatingPointValuesUseTheMappingsSpellings() throws {
        let pool = try TestDescriptors.registryPool()
        var message = Everything()
        message.floatValue = .nan
        message.doubleValue = -.infinity
        #expect(
            try pool.decode(message.serializedBytes(), asMessageNamed: Everything.protoMessageName)
                == .object([
                    ("floatValue", .string("NaN")), ("doubleValue", .string("-Infinity")),
                ]))
        message.floatValue = 0.1
        message.doubleValue = 1e100
        #expect(
            try pool.decode(message.serializedBytes(), asMessageNamed: Everything.protoMessageName)
                == .object([
                    ("floatValue", .number("0.1")), ("doubleValue", .number("1e+100")),
                ]))
        // -0 is not the default (its bits are not zero), so it is shown. protobuf-c never writes it, so
        // the bytes are written by hand.
        var writer = ProtoWriter()
        writer.writeTag(12, .fixed32)
        writer.writeFixed32(Float(3).bitPattern)
        writer.writeTag(13, .fixed64)
        writer.writeFixed64((-0.0 as Double).bitPattern)
        #expect(
            try pool.decode(writer.bytes, asMessageNamed: Everything.protoMessageName)
                == .object([
                    ("floatValue", .number("3")), ("doubleValue", .number("-0")),
                ]))
    }

    @Test func unknownFieldsAreSkipped() throws {
        var message = Everything()
        message.stringValue = "kept"
        message.inner = JSONToBinaryTests.inner("in", [1])
        var writer = ProtoWriter()
        writer.writeTag(99, .varint)
        writer.writeVarint(.max)
        writer.writeTag(100, .lengthDelimited)
        writer.writeString("ignored")
        writer.writeTag(101, .fixed32)
        writer.writeFixed32(1)
        writer.writeTag(102, .fixed64)
        writer.writeFixed64(2)
        writer.writeTag(103, .startGroup)
        writer.writeTag(1, .varint)
        writer.writeVarint(1)
        writer.writeTag(103, .endGroup)
        // A known field with the wrong wire type is skipped too, as protobuf parsers do.
        writer.writeTag(14, .varint)
        writer.writeVarint(5)
        let pool = try TestDescriptors.registryPool()
        let withUnknown = try pool.jsonText(
            decoding: writer.bytes + message.serializedBytes() + writer.bytes,
            asMessageNamed: Everything.protoMessageName)
        #expect(withUnknown == (try Self.json(message)))
        #expect(withUnknown.contains("\"stringValue\": \"kept\""))
    }

    @Test func theLastScalarWinsAndMessagesMerge() throws {
        let pool = try TestDescriptors.registryPool()
        var writer = ProtoWriter()
        writer.writeTag(1, .varint)
        writer.writeVarint(1)
        writer.writeTag(17, .lengthDelimited)
        writer.writeLengthDelimited(JSONToBinaryTests.inner("a", [1]).serializedBytes())
        writer.writeTag(1, .varint)
        writer.writeVarint(2)
        writer.writeTag(17, .lengthDelimited)
        writer.writeLengthDelimited(JSONToBinaryTests.inner("", [2]).serializedBytes())
        // Unpacked elements of a packable field are accepted next to packed ones.
        writer.writeTag(20, .varint)
        writer.writeVarint(3)
        writer.writeTag(20, .lengthDelimited)
        writer.writeLengthDelimited([0x04, 0x05])
        let json = try pool.decode(writer.bytes, asMessageNamed: Everything.protoMessageName)
        #expect(
            json
                == .object([
                    ("int32Value", .number("2")),
                    ("inner", .object([("label", .string("a")), ("values", .array([.number("1"), .number("2")]))])),
                    ("repeatedInt64", .array([.string("3"), .string("4"), .string("5")])),
                ]))
        // What the generated decoder makes of the same bytes.
        let generated = try Everything(serializedBytes: writer.bytes)
        #expect(generated.int32Value == 2 && generated.inner == JSONToBinaryTests.inner("a", [1, 2]))
        #expect(generated.repeatedInt64 == [3, 4, 5])
    }

    @Test func theLastOneofMemberOnTheWireWins() throws {
        let pool = try TestDescriptors.registryPool()
        let bytes: [UInt8] = [
            0xc2, 0x02, 0x01, 0x61,  // choice_text = "a"
            0xd0, 0x02, 0x05,  // choice_number = 5
        ]
        #expect(
            try pool.decode(bytes, asMessageNamed: Everything.protoMessageName)
                == .object([("choiceNumber", .number("5"))]))
        #expect(try Everything(serializedBytes: bytes).choice == .choiceNumber(5))
    }

    @Test func billingResponsesDecode() throws {
        let pool = try TestDescriptors.registryPool()
        var usage = Skyport_Billing_V1_GetUsageResponse()
        var total = Skyport_Billing_V1_UsageTotal()
        total.kind = .sessionSeconds
        total.quantity = 90
        total.events = 3
        usage.totals = [total, Skyport_Billing_V1_UsageTotal()]
        let method = try pool.method(named: "skyport.billing.v1.Billing.GetUsage")
        let text = try pool.decode(usage.serializedBytes(), as: method.output).formatted()
        #expect(
            text == """
                {
                  "totals": [
                    {
                      "kind": "USAGE_KIND_SESSION_SECONDS",
                      "quantity": "90",
                      "events": "3"
                    },
                    {}
                  ]
                }
                """)
    }

    @Test func malformedBytesThrowInsteadOfCrashing() throws {
        let pool = try TestDescriptors.registryPool()
        let name = Everything.protoMessageName
        let valid = JSONToBinaryTests.full().serializedBytes()
        var failures = 0
        for length in 0..<valid.count {
            do {
                _ = try pool.decode(Array(valid.prefix(length)), asMessageNamed: name)
            } catch is WireFormatError {
                failures += 1
            }
        }
        #expect(failures > valid.count / 2)
        // Flipping bytes must never trap; whatever is not decodable must throw one of the two errors.
        var generator = SplitMix64(seed: 42)
        for _ in 0..<2_000 {
            var bytes = valid
            for _ in 0..<3 {
                bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            do {
                _ = try pool.decode(bytes, asMessageNamed: name)
            } catch is WireFormatError {
            } catch is ProtoJSONError {
            }
        }
        #expect(throws: WireFormatError(.lengthOutOfBounds(5), offset: 1)) {
            try pool.decode([0x72, 0x05, 0x61], asMessageNamed: name)
        }
    }

    @Test func invalidUTF8InAProto3StringIsAnError() throws {
        let pool = try TestDescriptors.registryPool()
        let error = #expect(throws: ProtoJSONError.self) {
            try pool.decode([0x8a, 0x01, 0x04, 0x0a, 0x02, 0xc3, 0x28], asMessageNamed: Everything.protoMessageName)
        }
        #expect(error?.path == "inner.label")
    }

    @Test func decodingAnUnknownTypeNameThrows() throws {
        let pool = try TestDescriptors.registryPool()
        #expect(throws: DescriptorError.unknownSymbol("skyport.testing.v1.Nothing")) {
            try pool.decode([], asMessageNamed: "skyport.testing.v1.Nothing")
        }
        #expect(throws: DescriptorError.notAMessage("skyport.testing.v1.ShapeService")) {
            try pool.decode([], asMessageNamed: "skyport.testing.v1.ShapeService")
        }
    }
}

/// A small deterministic generator, so that the byte-flipping test is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9e37_79b9_7f4a_7c15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
