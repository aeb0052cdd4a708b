import SkyportInterop
import Testing

@Suite struct Ed25519Tests {
    /// RFC 8032, section 7.1, test 2: a one-byte message.
    @Test func matchesTheRFC8032TestVector() throws {
        let seed = Self.bytes("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
        let key = try Ed25519.PrivateKey(rawRepresentation: seed)
        #expect(
            key.publicKey.rawRepresentation
                == Self.bytes("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"))
        let signature = try key.signature(for: [0x72])
        #expect(
            signature
                == Self.bytes(
                    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                        + "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"))
        #expect(key.publicKey.isValidSignature(signature, for: [0x72]))
    }

    @Test func anyChangedBitOrOtherKeyFailsVerification() throws {
        let key = try Ed25519.PrivateKey()
        let other = try Ed25519.PrivateKey()
        let message = Array("session 42".utf8)
        let signature = try key.signature(for: message)
        #expect(key.publicKey.isValidSignature(signature, for: message))
        #expect(!other.publicKey.isValidSignature(signature, for: message))
        for bit in stride(from: 0, to: signature.count * 8, by: 37) {
            var flipped = signature
            flipped[bit / 8] ^= 1 << (bit % 8)
            #expect(!key.publicKey.isValidSignature(flipped, for: message))
        }
        var changed = message
        changed[0] ^= 1
        #expect(!key.publicKey.isValidSignature(signature, for: changed))
        #expect(!key.publicKey.isValidSignature(Array(signature.prefix(63)), for: message))
    }

    @Test func keysRoundTripThroughRawBytesAndNeverPrintTheSeed() throws {
        let key = try Ed25519.PrivateKey()
        let loaded = try Ed25519.PrivateKey(rawRepresentation: key.rawRepresentation)
        #expect(loaded.publicKey == key.publicKey)
        #expect(!"\(key)".contains(Self.hex(key.rawRepresentation)))
        #expect(throws: TLSError.self) { try Ed25519.PublicKey(rawRepresentation: [1, 2, 3]) }
        #expect(throws: TLSError.self) { try Ed25519.PrivateKey(rawRepresentation: []) }
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}
