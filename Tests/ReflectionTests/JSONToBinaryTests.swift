import SkyportProto
import SkyportTestSupport
import SkyportReflection
import Testing

/// JSON encoded dynamically, then decoded by the generated (protobuf-c) types: both sides must agree.
@Suite struct JSONToBinaryTests {
    typealias Everything = Skyport_Testing_V1_Everything

    static func inner(_ label: String, _ values: [UInt32]) -> Everything.Inner {
        EverythingFixture.inner(label, values)
    }

    static func full() -> Everything {
        EverythingFixture.full()
    }

    /// `full()` in the canonical proto3 JSON form.
    static let fullJSON = """
        {
          "int32Value": -2147483648,
          "int64Value": "-9223372036854775808",
          "uint32Value": 4294967295,
          "uint64Value": "18446744073709551615",
          "sint32Value": -123456,
          "sint64Value": "-9223372036854775808",
          "fixed32Value": 3735928559,
          "fixed64Value": "18446744073709551615",
          "sfixed32Value": -1,
          "sfixed64Value": "-9223372036854775808",
          "boolValue": true,
          "floatValue": 1.5,
          "doubleValue": -0.25,
          "stringValue": "héllo, 世界",
          "bytesValue": "AP+A",
          "color": "COLOR_GREEN",
          "inner": {
            "label": "inner",
            "values": [
              1,
              2,
              4294967295
            ]
          },
          "repeatedInt64": [
            "0",
            "-1",
            "9223372036854775807",
            "-9223372036854775808"
          ],
          "repeatedInner": [
            {
              "label": "a"
            },
            {},
            {
              "label": "c",
              "values": [
                3
              ]
            }
          ],
          "repeatedString": [
            "",
            "x",
            "yz"
          ],
          "repeatedBytes": [
            "",
            "AQ==",
            "AgM="
          ],
          "repeatedColor": [
            "COLOR_RED",
            "COLOR_NEGATIVE",
            "COLOR_UNSPECIFIED",
            77
          ],
          "repeatedBool": [
            true,
            false,
            true
          ],
          "counts": {
            "": "0",
            "a": "1",
            "b": "-2"
          },
          "innersById": {
            "-1": {},
            "7": {
              "label": "seven",
              "values": [
                7
              ]
            }
          },
          "flags": {
            "false": "no",
            "true": "yes"
          },
          "colorsById": {
            "0": "COLOR_RED",
            "18446744073709551615": "COLOR_NEGATIVE"
          },
          "choiceInner": {
            "label": "chosen",
            "values": [
              9
            ]
          },
          "protocol": "keyword",
          "default": 42
        }
        """

    @Test func everyFieldShapeEncodesAsTheGeneratedTypeExpects() throws {
        let pool = try TestDescriptors.registryPool()
        let bytes = try pool.encode(jsonText: Self.fullJSON, asMessageNamed: Everything.protoMessageName)
        let decoded = try Everything(serializedBytes: bytes)
        let expected = Self.full()
        // Field by field first, so that a failure names the field.
        #expect(decoded.int32Value == expected.int32Value)
        #expect(decoded.int64Value == expected.int64Value)
        #expect(decoded.uint32Value == expected.uint32Value)
        #expect(decoded.uint64Value == expected.uint64Value)
        #expect(decoded.sint32Value == expected.sint32Value)
        #expect(decoded.sint64Value == expected.sint64Value)
        #expect(decoded.fixed32Value == expected.fixed32Value)
        #expect(decoded.fixed64Value == expected.fixed64Value)
        #expect(decoded.sfixed32Value == expected.sfixed32Value)
        #expect(decoded.sfixed64Value == expected.sfixed64Value)
        #expect(decoded.boolValue == expected.boolValue)
        #expect(decoded.floatValue == expected.floatValue)
        #expect(decoded.doubleValue == expected.doubleValue)
        #expect(decoded.stringValue == expected.stringValue)
        #expect(decoded.bytesValue == expected.bytesValue)
        #expect(decoded.color == expected.color)
        #expect(decoded.inner == expected.inner)
        #expect(decoded.repeatedInt64 == expected.repeatedInt64)
        #expect(decoded.repeatedInner == expected.repeatedInner)
        #expect(decoded.repeatedString == expected.repeatedString)
        #expect(decoded.repeatedBytes == expected.repeatedBytes)
        #expect(decoded.repeatedColor == expected.repeatedColor)
        #expect(decoded.repeatedBool == expected.repeatedBool)
        #expect(decoded.counts == expected.counts)
        #expect(decoded.innersById == expected.innersById)
        #expect(decoded.flags == expected.flags)
        #expect(decoded.colorsById == expected.colorsById)
        #expect(decoded.choice == expected.choice)
        #expect(decoded.protocol == expected.protocol)
        #expect(decoded.default == expected.default)
        #expect(decoded == expected)
    }

    @Test func declaredNamesAndAlternativeValueFormsAreAccepted() throws {
        let pool = try TestDescriptors.registryPool()
        let json = """
            {"int32_value": "-5", "int64_value": 7, "uint64_value": 1e3, "sint64_value": "-2",
             "fixed32_value": 4.0, "bytes_value": "AP-A", "color": 2, "repeated_color": [1, "COLOR_GREEN", -1],
             "repeated_bytes": ["_w", "+w=="], "float_value": "-Infinity", "double_value": "2.5",
             "choice_text": "", "inners_by_id": {"3": {"values": ["4", 5]}}, "colors_by_id": {"9": 1}}
            """
        let decoded = try Everything(
            serializedBytes: pool.encode(jsonText: json, asMessageNamed: Everything.protoMessageName))
        #expect(decoded.int32Value == -5)
        #expect(decoded.int64Value == 7)
        #expect(decoded.uint64Value == 1000)
        #expect(decoded.sint64Value == -2)
        #expect(decoded.fixed32Value == 4)
        #expect(decoded.bytesValue == [0, 0xff, 0x80])
        #expect(decoded.color == .green)
        #expect(decoded.repeatedColor == [.red, .green, .negative])
        #expect(decoded.repeatedBytes == [[0xff], [0xfb]])
        #expect(decoded.floatValue == -.infinity)
        #expect(decoded.doubleValue == 2.5)
        #expect(decoded.choice == .choiceText(""))
        #expect(decoded.innersById == [3: Self.inner("", [4, 5])])
        #expect(decoded.colorsById == [9: .red])
    }

    @Test func notANumberSurvives() throws {
        let pool = try TestDescriptors.registryPool()
        let bytes = try pool.encode(
            jsonText: #"{"floatValue": "NaN", "doubleValue": "NaN"}"#, asMessageNamed: Everything.protoMessageName)
        let decoded = try Everything(serializedBytes: bytes)
        #expect(decoded.floatValue.isNaN && decoded.doubleValue.isNaN)
    }

    @Test func defaultsAreLeftOutUnlessTheFieldHasPresence() throws {
        let pool = try TestDescriptors.registryPool()
        let name = Everything.protoMessageName
        let defaults = """
            {"int32Value": 0, "int64Value": "0", "stringValue": "", "bytesValue": "", "boolValue": false,
             "color": "COLOR_UNSPECIFIED", "floatValue": 0, "inner": null, "repeatedInt64": [], "counts": {}}
            """
        #expect(try pool.encode(jsonText: defaults, asMessageNamed: name) == [])
        #expect(try pool.encode(jsonText: "{}", asMessageNamed: name) == [])
        // A oneof member and a message field are written even when empty: that is their presence.
        #expect(try pool.encode(jsonText: #"{"choiceNumber": 0}"#, asMessageNamed: name) == [0xd0, 0x02, 0x00])
        #expect(try pool.encode(jsonText: #"{"inner": {}}"#, asMessageNamed: name) == [0x8a, 0x01, 0x00])
        #expect(try Everything(serializedBytes: [0x8a, 0x01, 0x00]).inner == Everything.Inner())
    }

    @Test func theEncodingIsByteForByteTheGeneratedOne() throws {
        // Fields in number order and packed repeated scalars, exactly as protobuf-c (and Python) write them.
        let pool = try TestDescriptors.registryPool()
        var expected = Everything()
        expected.uint64Value = .max
        expected.sint32Value = -2
        expected.repeatedInt64 = [1, -1, 300]
        expected.choice = .choiceNumber(7)
        expected.color = .negative
        let json =
            #"{"choiceNumber": 7, "repeatedInt64": [1, -1, 300], "color": "COLOR_NEGATIVE", "sint32Value": -2, "uint64Value": "18446744073709551615"}"#
        #expect(
            try pool.encode(jsonText: json, asMessageNamed: Everything.protoMessageName) == expected.serializedBytes())
    }

    @Test func billingUsageEventsEncodeAsTheServiceExpects() throws {
        let pool = try TestDescriptors.registryPool()
        let method = try pool.method(named: "skyport.billing.v1.Billing/IngestUsage")
        let json = """
            {"idempotencyKey": "evt-1", "developer_id": "dev-42", "appId": "app-7",
             "kind": "USAGE_KIND_BANDWIDTH_BYTES", "quantity": "18446744073709551615", "occurredAtUnixMs": -1}
            """
        let bytes = try pool.encode(JSONValue.parse(json), as: method.input)
        let decoded = try Skyport_Billing_V1_IngestUsageRequest(serializedBytes: bytes)
        #expect(decoded.idempotencyKey == "evt-1")
        #expect(decoded.developerId == "dev-42")
        #expect(decoded.appId == "app-7")
        #expect(decoded.kind == .bandwidthBytes)
        #expect(decoded.quantity == .max)
        #expect(decoded.occurredAtUnixMs == -1)
        #expect(bytes == decoded.serializedBytes())
    }

    @Test func interopRequestsEncodeAsTheGeneratedTypesExpect() throws {
        let pool = try TestDescriptors.registryPool()
        let bytes = try pool.encode(
            jsonText:
                #"{"responseSize": 10, "payload": {"body": "AAAA"}, "responseStatus": {"code": 5, "message": "gone"}}"#,
            asMessageNamed: "grpc.testing.SimpleRequest")
        let request = try Grpc_Testing_SimpleRequest(serializedBytes: bytes)
        #expect(request.responseSize == 10)
        #expect(request.payload?.body == [0, 0, 0])
        #expect(request.responseStatus?.code == 5 && request.responseStatus?.message == "gone")

        let streaming = try Grpc_Testing_StreamingOutputCallRequest(
            serializedBytes: pool.encode(
                jsonText: #"{"responseParameters": [{"size": 3}, {"size": 5, "intervalUs": 10}]}"#,
                asMessageNamed: "grpc.testing.StreamingOutputCallRequest"))
        #expect(streaming.responseParameters.map(\.size) == [3, 5])
        #expect(streaming.responseParameters.map(\.intervalUs) == [0, 10])
    }
}
