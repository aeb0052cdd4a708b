import SkyportProto
import SkyportReflection
import Testing

/// JSON that does not fit the message: every error names the field path and the problem.
@Suite struct ProtoJSONErrorTests {
    static let everything = Skyport_Testing_V1_Everything.protoMessageName

    static func error(_ json: String, as type: String = everything) throws -> ProtoJSONError? {
        let pool = try TestDescriptors.registryPool()
        return #expect(throws: ProtoJSONError.self) { try pool.encode(jsonText: json, asMessageNamed: type) }
    }

    static let unknownFields: [(String, String, String)] = [
        (#"{"nope": 1}"#, "nope", "unknown field (skyport.testing.v1.Everything has no field 'nope')"),
        (
            #"{"inner": {"lable": "x"}}"#, "inner.lable",
            "unknown field (skyport.testing.v1.Everything.Inner has no field 'lable')"
        ),
        (
            #"{"Int32Value": 1}"#, "Int32Value",
            "unknown field (skyport.testing.v1.Everything has no field 'Int32Value')"
        ),
    ]

    @Test(arguments: Self.unknownFields)
    func unknownFieldNamesAreRefused(json: String, path: String, reason: String) throws {
        let error = try Self.error(json)
        #expect(error?.path == path)
        #expect(error?.reason == reason)
    }

    static let wrongTypes: [(String, String)] = [
        (#"{"stringValue": 5}"#, "field 'stringValue': expected a string, got a number"),
        (#"{"stringValue": null, "boolValue": "true"}"#, "field 'boolValue': expected true or false, got a string"),
        (#"{"inner": "x"}"#, "field 'inner': expected an object (skyport.testing.v1.Everything.Inner), got a string"),
        (#"{"repeatedString": "x"}"#, "field 'repeatedString': expected an array, got a string"),
        (#"{"repeatedString": ["a", 1]}"#, "field 'repeatedString[1]': expected a string, got a number"),
        (
            #"{"repeatedInner": [{}, {"values": ["x"]}]}"#,
            #"field 'repeatedInner[1].values[0]': expected an integer (uint32), got "x""#
        ),
        (#"{"counts": []}"#, "field 'counts': expected an object (map), got an array"),
        (#"{"innersById": {"7": {"label": 1}}}"#, #"field 'innersById["7"].label': expected a string, got a number"#),
        (#"{"innersById": {"x": {}}}"#, #"field 'innersById["x"]': expected an integer (int32), got "x""#),
        (#"{"flags": {"yes": "y"}}"#, #"field 'flags["yes"]': map key must be "true" or "false""#),
        (#"{"counts": {"a": null}}"#, #"field 'counts["a"]': map values cannot be null"#),
        (#"{"repeatedInt64": [1, null]}"#, "field 'repeatedInt64[1]': null is not allowed in a repeated field"),
        (#"{"bytesValue": "not base64!"}"#, "field 'bytesValue': invalid base64"),
        (#"{"bytesValue": 12}"#, "field 'bytesValue': expected a base64 string, got a number"),
        (
            #"{"color": "COLOR_PURPLE"}"#,
            "field 'color': unknown value 'COLOR_PURPLE' of enum skyport.testing.v1.Everything.Color"
        ),
        (
            #"{"color": true}"#,
            "field 'color': expected an enum name or number (skyport.testing.v1.Everything.Color), got a boolean"
        ),
        (#"{"floatValue": "fast"}"#, "field 'floatValue': expected a number (float), got a string"),
        (
            #"{"choiceText": "a", "choiceNumber": 1}"#,
            "field 'choiceNumber': oneof 'choice' already has a value ('choiceText')"
        ),
        (#"{"int32_value": 1, "int32Value": 2}"#, "field 'int32Value': given more than once (also as 'int32_value')"),
        ("[]", "expected a JSON object for skyport.testing.v1.Everything, got an array"),
    ]

    @Test(arguments: Self.wrongTypes)
    func wrongJSONTypesNameTheFieldPath(json: String, description: String) throws {
        #expect(try Self.error(json)?.description == description)
    }

    static let outOfRange: [(String, String)] = [
        (#"{"int32Value": 2147483648}"#, "2147483648 is out of range for int32"),
        (#"{"int32Value": -2147483649}"#, "-2147483649 is out of range for int32"),
        (#"{"sint32Value": "3000000000"}"#, "3000000000 is out of range for sint32"),
        (#"{"sfixed32Value": 1e10}"#, "1e10 is out of range for sfixed32"),
        (#"{"uint32Value": -1}"#, "-1 is out of range for uint32"),
        (#"{"fixed32Value": 4294967296}"#, "4294967296 is out of range for fixed32"),
        (#"{"int64Value": "9223372036854775808"}"#, "9223372036854775808 is out of range for int64"),
        (#"{"uint64Value": "18446744073709551616"}"#, "18446744073709551616 is out of range for uint64"),
        (#"{"fixed64Value": -5}"#, "-5 is out of range for fixed64"),
        (#"{"int64Value": 1e19}"#, "1e19 is out of range for int64"),
        (#"{"color": 2147483648}"#, "2147483648 is out of range for enum"),
        (#"{"int32Value": 1.5}"#, "expected an integer (int32), got 1.5"),
        (#"{"int64Value": "0x10"}"#, #"expected an integer (int64), got "0x10""#),
        (#"{"int32Value": " 1"}"#, #"expected an integer (int32), got " 1""#),
        (#"{"floatValue": 1e39}"#, "1e+39 is out of range for float"),
        (#"{"doubleValue": 1e999}"#, "1e999 is out of range for double"),
    ]

    @Test(arguments: Self.outOfRange)
    func integersOutOfRangeAreRefused(json: String, reason: String) throws {
        #expect(try Self.error(json)?.reason == reason)
    }

    @Test func theBrokenFieldOfARealServiceRequestIsNamed() throws {
        let error = try Self.error(#"{"developerId": 5}"#, as: "skyport.billing.v1.GetUsageRequest")
        #expect(error?.description == "field 'developerId': expected a string, got a number")
        let kind = try Self.error(#"{"kind": "SESSION_SECONDS"}"#, as: "skyport.billing.v1.IngestUsageRequest")
        #expect(kind?.path == "kind")
    }

    @Test func malformedJSONIsASyntaxErrorWithAPosition() throws {
        let pool = try TestDescriptors.registryPool()
        let error = #expect(throws: JSONSyntaxError.self) {
            try pool.encode(jsonText: "{\n  \"int32Value\": 1,\n  \"stringValue\": }", asMessageNamed: Self.everything)
        }
        #expect(error?.line == 3 && error?.column == 18)
        #expect(error?.description == "invalid JSON at line 3, column 18: unexpected character '}', expected a value")
    }
}
