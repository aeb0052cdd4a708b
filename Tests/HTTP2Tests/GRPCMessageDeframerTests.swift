import NIOCore
@testable import SkyportHTTP2
import SkyportRPC
import Testing

@Suite struct GRPCMessageDeframerTests {
    func frame(_ bytes: [UInt8], flag: UInt8 = 0) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(flag)
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
        return buffer
    }

    @Test func splitsMessagesAcrossArbitraryChunkBoundaries() {
        var wire = self.frame([1, 2, 3])
        var second = self.frame([])
        var third = self.frame(Array(repeating: 7, count: 300))
        wire.writeBuffer(&second)
        wire.writeBuffer(&third)
        for chunkSize in [1, 2, 5, 7, 64, 1000] {
            var deframer = GRPCMessageDeframer(maxMessageSize: 1024)
            var messages: [[UInt8]] = []
            var input = wire
            while input.readableBytes > 0 {
                deframer.append(input.readSlice(length: min(chunkSize, input.readableBytes))!)
                while let output = deframer.next() {
                    guard case .message(let message) = output else {
                        Issue.record("unexpected \(output)")
                        return
                    }
                    messages.append(message)
                }
            }
            #expect(messages == [[1, 2, 3], [], Array(repeating: 7, count: 300)])
            #expect(!deframer.hasPartialMessage)
        }
    }

    @Test func rejectsOversizedMessagesFromThePrefixAlone() {
        var deframer = GRPCMessageDeframer(maxMessageSize: 10)
        var prefix = ByteBuffer()
        prefix.writeInteger(UInt8(0))
        prefix.writeInteger(UInt32.max)
        deframer.append(prefix)
        guard case .error(let status) = deframer.next() else {
            Issue.record("expected an error")
            return
        }
        #expect(status.code == .resourceExhausted)
        #expect(deframer.bufferedBytes == 0)
        deframer.append(self.frame([1]))
        #expect(deframer.next() == nil)
    }

    @Test func rejectsCompressedMessagesWithoutEncodingAndBadFlags() {
        var compressed = GRPCMessageDeframer(maxMessageSize: 10)
        compressed.append(self.frame([1], flag: 1))
        guard case .error(let status) = compressed.next() else {
            Issue.record("expected an error")
            return
        }
        #expect(status.code == .internal)
        var bad = GRPCMessageDeframer(maxMessageSize: 10)
        bad.append(self.frame([1], flag: 0x80))
        #expect({ if case .error = bad.next() { true } else { false } }())
    }

    @Test func framingWritesThePrefix() {
        let buffer = frameGRPCMessage([9, 8], allocator: ByteBufferAllocator())
        #expect(Array(buffer.readableBytesView) == [0, 0, 0, 0, 2, 9, 8])
    }
}
