import SkyportReflection
import Testing

/// The protobuf wire-format reader and writer, with no descriptors involved.
@Suite struct WireFormatTests {
    static let varints: [(UInt64, [UInt8])] = [
        (0, [0x00]),
        (1, [0x01]),
        (127, [0x7f]),
        (128, [0x80, 0x01]),
        (300, [0xac, 0x02]),
        (UInt64(UInt32.max), [0xff, 0xff, 0xff, 0xff, 0x0f]),
        (UInt64.max, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    ]

    @Test(arguments: Self.varints)
    func varintsMatchTheSpecification(value: UInt64, encoding: [UInt8]) throws {
        var writer = ProtoWriter()
        writer.writeVarint(value)
        #expect(writer.bytes == encoding)
        var reader = ProtoReader(encoding)
        #expect(try reader.readVarint() == value)
        #expect(reader.isAtEnd)
    }

    @Test func zigZagMapsSmallMagnitudesToSmallNumbers() {
        #expect(ZigZag.encode(Int32(0)) == 0)
        #expect(ZigZag.encode(Int32(-1)) == 1)
        #expect(ZigZag.encode(Int32(1)) == 2)
        #expect(ZigZag.encode(Int32(-2)) == 3)
        #expect(ZigZag.encode(Int32.max) == 0xffff_fffe)
        #expect(ZigZag.encode(Int32.min) == 0xffff_ffff)
        #expect(ZigZag.encode(Int64.min) == .max)
        for value: Int64 in [0, 1, -1, 63, -64, .max, .min] {
            #expect(ZigZag.decode(ZigZag.encode(value)) == value)
        }
        for value: Int32 in [0, 1, -1, .max, .min] {
            #expect(ZigZag.decode(ZigZag.encode(value)) == value)
        }
    }

    @Test func fixedWidthValuesAreLittleEndian() throws {
        var writer = ProtoWriter()
        writer.writeFixed32(0x0102_0304)
        writer.writeFixed64(0x0102_0304_0506_0708)
        #expect(writer.bytes == [4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1])
        var reader = ProtoReader(writer.bytes)
        #expect(try reader.readFixed32() == 0x0102_0304)
        #expect(try reader.readFixed64() == 0x0102_0304_0506_0708)
        #expect(reader.isAtEnd)
    }

    @Test func tagsAndLengthDelimitedValuesRoundTrip() throws {
        var writer = ProtoWriter()
        writer.writeTag(1, .varint)
        writer.writeVarint(150)
        writer.writeTag(ProtoTag.maxFieldNumber, .lengthDelimited)
        writer.writeString("héllo")
        #expect(Array(writer.bytes.prefix(3)) == [0x08, 0x96, 0x01])
        var reader = ProtoReader(writer.bytes)
        #expect(try reader.readTag() == ProtoTag(fieldNumber: 1, wireType: .varint))
        #expect(try reader.readVarint() == 150)
        #expect(try reader.readTag() == ProtoTag(fieldNumber: ProtoTag.maxFieldNumber, wireType: .lengthDelimited))
        #expect(try reader.readString() == "héllo")
        #expect(try reader.readTag() == nil)
    }

    static let malformed: [([UInt8], WireFormatError.Reason)] = [
        ([0x80], .truncated),
        ([0x0a, 0x05, 0x01], .lengthOutOfBounds(5)),
        ([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], .lengthOutOfBounds(0xffff_ffff)),
        ([0x0d, 0x01, 0x02], .truncated),
        ([0x09, 0x01], .truncated),
        ([0x08] + [UInt8](repeating: 0xff, count: 10) + [0x01], .varintTooLong),
        ([0x0f], .invalidWireType(7)),
        ([0x0e], .invalidWireType(6)),
        ([0x00, 0x01], .invalidFieldNumber(0)),
        ([0x80, 0x80, 0x80, 0x80, 0x80, 0x01], .invalidFieldNumber(1 << 32)),
        ([0x0c], .unbalancedGroup),
        ([0x0b, 0x08, 0x01], .unbalancedGroup),
        ([0x0b, 0x14], .unbalancedGroup),
    ]

    @Test(arguments: Self.malformed)
    func malformedInputThrowsTheRightReason(bytes: [UInt8], reason: WireFormatError.Reason) {
        let error = #expect(throws: WireFormatError.self) {
            var reader = ProtoReader(bytes)
            while let tag = try reader.readTag() { try reader.skipValue(of: tag) }
        }
        #expect(error?.reason == reason)
    }

    @Test func groupsAreSkippedWhole() throws {
        let bytes: [UInt8] = [
            0x2b,  // field 5, start group
            0x08, 0x01,  // field 1 = 1
            0x33, 0x0a, 0x01, 0x78, 0x34,  // field 6: a nested group holding a string
            0x2c,  // field 5, end group
            0x08, 0x07,  // field 1 = 7
        ]
        var reader = ProtoReader(bytes)
        let group = try #require(try reader.readTag())
        #expect(group == ProtoTag(fieldNumber: 5, wireType: .startGroup))
        try reader.skipValue(of: group)
        #expect(try reader.readTag() == ProtoTag(fieldNumber: 1, wireType: .varint))
        #expect(try reader.readVarint() == 7)
        #expect(reader.isAtEnd)
    }

    @Test func deeplyNestedGroupsAreRefusedNotRecursed() {
        let bytes = [UInt8](repeating: 0x0b, count: 10_000)
        let error = #expect(throws: WireFormatError.self) {
            var reader = ProtoReader(bytes)
            while let tag = try reader.readTag() { try reader.skipValue(of: tag) }
        }
        #expect(error?.reason == .nestingTooDeep)
    }

    @Test func invalidUTF8StringsAreRejected() {
        var writer = ProtoWriter()
        writer.writeLengthDelimited([0x66, 0xff, 0x6f])
        let error = #expect(throws: WireFormatError.self) {
            var reader = ProtoReader(writer.bytes)
            _ = try reader.readString()
        }
        #expect(error?.reason == .invalidUTF8)
    }

    @Test func errorOffsetsPointIntoTheBuffer() {
        let bytes: [UInt8] = [0x08, 0x01, 0x12, 0x09, 0x61]
        let error = #expect(throws: WireFormatError.self) {
            var reader = ProtoReader(bytes)
            while let tag = try reader.readTag() { try reader.skipValue(of: tag) }
        }
        #expect(error?.offset == 3)
        #expect(error?.description == "malformed protobuf at byte 3: length 9 runs past the end of the data")
    }
}
