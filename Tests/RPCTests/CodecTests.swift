import SkyportRPC
import Testing

@Suite struct StatusMessageCodingTests {
    @Test func encodesControlPercentAndNonASCII() {
        #expect(StatusMessageCoding.encode("plain text") == "plain text")
        #expect(StatusMessageCoding.encode("100%") == "100%25")
        #expect(StatusMessageCoding.encode("a\tb\n") == "a%09b%0A")
        #expect(StatusMessageCoding.encode("☺") == "%E2%98%BA")
    }

    @Test func roundTripsTheInteropSpecialMessage() {
        let message = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
        let encoded = StatusMessageCoding.encode(message)
        #expect(encoded.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E })
        #expect(StatusMessageCoding.decode(encoded) == message)
    }

    @Test func keepsMalformedEscapesLiterally() {
        #expect(StatusMessageCoding.decode("50%") == "50%")
        #expect(StatusMessageCoding.decode("%zz ok") == "%zz ok")
        #expect(StatusMessageCoding.decode("%4") == "%4")
    }
}

@Suite struct Base64Tests {
    @Test func encodesWithAndWithoutPadding() {
        #expect(Base64.encode(Array("f".utf8)) == "Zg==")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.encode(Array("foo".utf8)) == "Zm9v")
        #expect(Base64.encode(Array("fo".utf8), padding: false) == "Zm8")
        #expect(Base64.encode([0xFF, 0xFE, 0xFD]) == "//79")
    }

    @Test func decodesPaddedUnpaddedAndRejectsGarbage() {
        #expect(Base64.decode("Zm8=") == Array("fo".utf8))
        #expect(Base64.decode("Zm8") == Array("fo".utf8))
        #expect(Base64.decode("") == [])
        #expect(Base64.decode("Z") == nil)
        #expect(Base64.decode("Zm8*") == nil)
    }

    @Test func roundTripsAllByteValues() {
        let bytes = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        #expect(Base64.decode(Base64.encode(bytes, padding: false)) == bytes)
    }
}

@Suite struct HexTests {
    @Test func encodesTwoLowerCaseDigitsPerByte() {
        #expect(Hex.encode([]) == "")
        #expect(Hex.encode([0x00, 0x0F, 0xA5, 0xFF]) == "000fa5ff")
    }

    @Test func randomDigitsHaveTheAskedLengthAndDiffer() {
        for count in [1, 8, 12, 13] {
            let text = Hex.random(byteCount: count)
            #expect(text.utf8.count == count * 2)
            #expect(text.allSatisfy { "0123456789abcdef".contains($0) })
        }
        let many = Set((0..<1000).map { _ in Hex.random(byteCount: 12) })
        #expect(many.count == 1000)
    }
}

@Suite struct MetadataTests {
    @Test func keysAreLowerCasedAndDuplicatesKept() {
        var metadata: Metadata = ["X-Key": "a"]
        metadata.add("x-key", "b")
        #expect(metadata[values: "x-key"] == [.string("a"), .string("b")])
        #expect(metadata["X-KEY"] == "a")
    }

    @Test func binaryValuesTravelAsBase64() {
        let entry = Metadata.Entry(key: "trace-bin", value: .binary([0, 1, 0xFF]))
        let wire = Metadata.wireValue(for: entry)
        #expect(wire == "AAH/")
        #expect(Metadata.entry(fromWireKey: "trace-bin", value: "AAH/")?.value == .binary([0, 1, 0xFF]))
        #expect(Metadata.entry(fromWireKey: "trace-bin", value: "AAH/==")?.value == .binary([0, 1, 0xFF]))
        #expect(Metadata.entry(fromWireKey: "trace-bin", value: "!!") == nil)
    }

    @Test func reservedAndInvalidEntriesAreNotSent() {
        #expect(Metadata.wireValue(for: .init(key: "grpc-status", value: "0")) == nil)
        #expect(Metadata.wireValue(for: .init(key: ":path", value: "/x")) == nil)
        #expect(Metadata.wireValue(for: .init(key: "content-type", value: "x")) == nil)
        #expect(Metadata.wireValue(for: .init(key: "Bad Key", value: "x")) == nil)
        #expect(Metadata.wireValue(for: .init(key: "ok", value: "line\nbreak")) == nil)
        #expect(Metadata.wireValue(for: .init(key: "ok", value: "fine")) == "fine")
        #expect(Metadata.entry(fromWireKey: "te", value: "trailers") == nil)
    }
}

@Suite struct StatusTests {
    @Test func parsesCodesAndMapsUnknownValues() {
        #expect(Status.Code(headerValue: "0") == .ok)
        #expect(Status.Code(headerValue: "14") == .unavailable)
        #expect(Status.Code(headerValue: "99") == .unknown)
        #expect(Status.Code(headerValue: "x") == .unknown)
    }

    @Test func anErrorIsNeverOK() {
        #expect(RPCError(code: .ok, message: "?").code == .unknown)
        #expect(MethodDescriptor(path: "/a.B/C") == MethodDescriptor(service: "a.B", method: "C"))
        #expect(MethodDescriptor(path: "/a.B") == nil)
        #expect(MethodDescriptor(path: "a.B/C") == nil)
        #expect(MethodDescriptor(path: "//C") == nil)
    }
}
