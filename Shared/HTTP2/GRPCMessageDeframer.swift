internal import NIOCore
internal import SkyportRPC

/// Splits a stream of DATA payloads into gRPC messages: 1-byte compressed flag, 4-byte big-endian
/// length, then the message bytes.
///
/// A message over the limit is rejected from its 5-byte prefix, before any of it is buffered.
struct GRPCMessageDeframer {
    /// What `next()` found.
    enum Output: Equatable {
        /// A whole message.
        case message([UInt8])
        /// The input broke a rule; the call must end with this status.
        case error(Status)
    }

    private var buffer: ByteBuffer
    private let maxMessageSize: Int
    private let compressionAllowed: Bool
    private var failed = false

    /// Creates a deframer that accepts messages up to `maxMessageSize` bytes. Compressed messages are
    /// refused unless `compressionAllowed` (no `grpc-encoding` was negotiated).
    init(maxMessageSize: Int, compressionAllowed: Bool = false) {
        self.buffer = ByteBuffer()
        self.maxMessageSize = maxMessageSize
        self.compressionAllowed = compressionAllowed
    }

    /// Adds received bytes.
    mutating func append(_ bytes: ByteBuffer) {
        guard !self.failed else { return }
        if self.buffer.readableBytes == 0 {
            self.buffer = bytes
        } else {
            var bytes = bytes
            self.buffer.writeBuffer(&bytes)
        }
    }

    /// Bytes of an incomplete message held.
    var bufferedBytes: Int { self.buffer.readableBytes }

    /// The next complete message, an error, or `nil` when more bytes are needed.
    mutating func next() -> Output? {
        guard !self.failed, self.buffer.readableBytes >= 5,
            let flag = self.buffer.getInteger(at: self.buffer.readerIndex, as: UInt8.self),
            let length = self.buffer.getInteger(at: self.buffer.readerIndex + 1, as: UInt32.self)
        else { return nil }
        if flag & 1 != 0 && !self.compressionAllowed {
            return self.fail(
                Status(code: .internal, message: "Compressed message received without a negotiated grpc-encoding"))
        }
        if flag & ~1 != 0 {
            return self.fail(Status(code: .internal, message: "Invalid gRPC message flags \(flag)"))
        }
        if Int(length) > self.maxMessageSize {
            return self.fail(
                Status(
                    code: .resourceExhausted,
                    message: "Received message larger than max (\(length) vs. \(self.maxMessageSize))"))
        }
        guard self.buffer.readableBytes >= 5 + Int(length) else { return nil }
        self.buffer.moveReaderIndex(forwardBy: 5)
        let message = self.buffer.readBytes(length: Int(length))!
        if self.buffer.readableBytes == 0 { self.buffer = ByteBuffer() }
        return .message(message)
    }

    /// Whether a partial message is left over (at the end of the stream this is an error).
    var hasPartialMessage: Bool { self.buffer.readableBytes > 0 }

    private mutating func fail(_ status: Status) -> Output {
        self.failed = true
        self.buffer = ByteBuffer()
        return .error(status)
    }
}

/// Frames one message for the wire: the 5-byte prefix then the bytes.
func frameGRPCMessage(_ message: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
    var buffer = allocator.buffer(capacity: 5 + message.count)
    buffer.writeInteger(UInt8(0))
    buffer.writeInteger(UInt32(message.count))
    buffer.writeBytes(message)
    return buffer
}
