import SkyportProto
import SkyportTestSupport
import Testing

/// Every field shape the generator supports, through the test-only `skyport.testing.v1` proto.
@Suite struct FieldShapeTests {
    typealias Everything = Skyport_Testing_V1_Everything

    static func inner(_ label: String, _ values: [UInt32]) -> Everything.Inner {
        EverythingFixture.inner(label, values)
    }

    static func full() -> Everything {
        EverythingFixture.full()
    }

    @Test func everyShapeRoundTrips() throws {
        let message = Self.full()
        let decoded = try Everything(serializedBytes: message.serializedBytes())
        #expect(decoded == message)
        #expect(decoded.inner?.values == [1, 2, .max])
        #expect(decoded.repeatedColor.last == .unrecognized(77))
        #expect(decoded.innersById[7]?.label == "seven")
    }

    @Test func encodingIsDeterministic() {
        // Maps are encoded in key order, so equal messages encode identically whatever their
        // dictionaries' internal order.
        let bytes = Self.full().serializedBytes()
        for _ in 0..<5 {
            #expect(Self.full().serializedBytes() == bytes)
        }
    }

    @Test func oneofMembersRoundTrip() throws {
        for choice: Everything.OneOf_Choice? in [
            nil, .choiceText(""), .choiceText("text"), .choiceNumber(0), .choiceNumber(-5),
            .choiceInner(Everything.Inner()), .choiceInner(Self.inner("x", [1])),
        ] {
            var message = Everything()
            message.choice = choice
            #expect(try Everything(serializedBytes: message.serializedBytes()).choice == choice)
        }
        // A oneof member set to its default is still encoded: presence is the point of a oneof.
        var empty = Everything()
        empty.choice = .choiceNumber(0)
        #expect(empty.serializedBytes() == [0xd0, 0x02, 0x00])
    }

    @Test func lastOneofMemberOnTheWireWins() throws {
        let bytes: [UInt8] = [
            0xc2, 0x02, 0x01, 0x61,  // choice_text = "a"
            0xd0, 0x02, 0x05,  // choice_number = 5
        ]
        #expect(try Everything(serializedBytes: bytes).choice == .choiceNumber(5))
    }

    @Test func encodingMatchesTheWireFormat() throws {
        // Bytes produced independently by Python protobuf (deterministic serialization).
        var message = Everything()
        message.uint64Value = .max
        message.sint32Value = -2
        message.repeatedInt64 = [1, -1, 300]
        message.counts = ["b": 2, "a": 1]
        message.choice = .choiceNumber(7)
        message.color = .negative
        let expected: [UInt8] = [
            0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,  // uint64_value = 2^64-1
            0x28, 0x03,  // sint32_value = -2 (zigzag)
            0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,  // color = -1
            0xa2, 0x01, 0x0d, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xac, 0x02,  // packed
            0xf2, 0x01, 0x05, 0x0a, 0x01, 0x61, 0x10, 0x01,  // counts { "a": 1 }
            0xf2, 0x01, 0x05, 0x0a, 0x01, 0x62, 0x10, 0x02,  // counts { "b": 2 }
            0xd0, 0x02, 0x07,  // choice_number = 7
        ]
        #expect(message.serializedBytes() == expected)
        #expect(try Everything(serializedBytes: expected) == message)
    }

    @Test func decodesMapsWithMessageAndBoolKeysFromAnotherEncoder() throws {
        // Python protobuf's encoding: map entries with explicit default keys, an empty oneof string.
        let bytes: [UInt8] = [
            0xfa, 0x01, 0x0e, 0x08, 0x05, 0x12, 0x0a, 0x0a, 0x04, 0x66, 0x69, 0x76, 0x65, 0x12, 0x02, 0x01, 0x02,
            0x82, 0x02, 0x05, 0x08, 0x01, 0x12, 0x01, 0x74,
            0x82, 0x02, 0x05, 0x08, 0x00, 0x12, 0x01, 0x66,
            0xc2, 0x02, 0x00,
        ]
        let message = try Everything(serializedBytes: bytes)
        #expect(message.innersById == [5: Self.inner("five", [1, 2])])
        #expect(message.flags == [true: "t", false: "f"])
        #expect(message.choice == .choiceText(""))
    }

    @Test func unpackedRepeatedScalarsAndDuplicateMapKeysDecode() throws {
        let bytes: [UInt8] = [
            0xa0, 0x01, 0x01,  // repeated_int64 = 1 (unpacked)
            0xa0, 0x01, 0x02,  // repeated_int64 = 2 (unpacked)
            0xf2, 0x01, 0x05, 0x0a, 0x01, 0x6b, 0x10, 0x01,  // counts { "k": 1 }
            0xf2, 0x01, 0x05, 0x0a, 0x01, 0x6b, 0x10, 0x02,  // counts { "k": 2 }: the later entry wins
            0xf2, 0x01, 0x00,  // counts { "": 0 }: an entry with both fields absent
        ]
        let message = try Everything(serializedBytes: bytes)
        #expect(message.repeatedInt64 == [1, 2])
        #expect(message.counts == ["k": 2, "": 0])
    }

    @Test func topLevelEnumAndCrossTypeReferences() throws {
        var wrapper = Skyport_Testing_V1_Wrapper()
        wrapper.everything = Self.full()
        wrapper.level = .high
        wrapper.colors = [.green, .red]
        #expect(try Skyport_Testing_V1_Wrapper(serializedBytes: wrapper.serializedBytes()) == wrapper)
        #expect(Skyport_Testing_V1_Level(rawValue: 1) == .high)
        #expect(Everything.Color.negative.rawValue == -1)
    }
}
