import NIOCore
@testable import SkyportHTTP2
import SkyportRPC
import Testing

@Suite struct InboundStreamFlowTests {
    func framed(_ size: Int) -> ByteBuffer {
        frameGRPCMessage([UInt8](repeating: 7, count: size), allocator: ByteBufferAllocator())
    }

    @Test func partialMessagesReopenTheWindowAtOnce() {
        var flow = InboundStreamFlow(maxMessageSize: 1 << 20, maxQueuedBytes: 100)
        var whole = self.framed(500)
        var delivered: [[UInt8]] = []
        // A 505-byte message larger than the queue limit still gets through, chunk by chunk.
        while whole.readableBytes > 0 {
            let chunk = whole.readSlice(length: min(128, whole.readableBytes))!
            let outcome = flow.receive(chunk) { delivered.append($0) }
            if delivered.isEmpty { #expect(outcome == .reopen(chunk.readableBytes)) }
        }
        #expect(delivered.count == 1)
        #expect(delivered[0].count == 500)
    }

    @Test func windowIsWithheldWhileTheReaderLagsAndReopenedAsItReads() {
        var flow = InboundStreamFlow(maxMessageSize: 1 << 20, maxQueuedBytes: 100)
        var count = 0
        #expect(flow.receive(self.framed(45)) { _ in count += 1 } == .reopen(50))
        #expect(flow.receive(self.framed(45)) { _ in count += 1 } == .reopen(50))
        // 150 bytes queued > 100: this chunk's credit is withheld.
        #expect(flow.receive(self.framed(45)) { _ in count += 1 } == .reopen(0))
        #expect(flow.heldWindow == 50)
        #expect(count == 3)
        // Reading one message brings the queue to 100 (≤ limit): the held credit comes back once.
        #expect(flow.read(wireBytes: 50) == 50)
        #expect(flow.heldWindow == 0)
        #expect(flow.read(wireBytes: 50) == 0)
        #expect(flow.queuedBytes == 50)
    }

    @Test func oversizedMessageFailsTheStream() {
        var flow = InboundStreamFlow(maxMessageSize: 10, maxQueuedBytes: 100)
        guard case .failed(let status) = flow.receive(self.framed(11), deliver: { _ in }) else {
            Issue.record("accepted an oversized message")
            return
        }
        #expect(status.code == .resourceExhausted)
    }
}
