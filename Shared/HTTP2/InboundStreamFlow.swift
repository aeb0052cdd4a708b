internal import NIOCore
internal import SkyportRPC

/// Received DATA of one stream on its way to the application: splits it into messages and decides
/// how much of the stream's flow-control window may reopen.
///
/// Bytes of a partial message reopen the window at once (a message larger than the window must be
/// able to arrive), but once `maxQueuedBytes` of whole messages wait unread, the window stays closed
/// until the application reads. No I/O: the connection handlers apply what it returns.
struct InboundStreamFlow {
    /// What receiving a chunk led to.
    enum Outcome: Equatable {
        /// Reopen the stream window by this many bytes now (possibly 0: withheld).
        case reopen(Int)
        /// The stream broke a rule (a message too large, a bad flag): end it with this status.
        case failed(Status)
    }

    private var deframer: GRPCMessageDeframer
    private let maxQueuedBytes: Int
    /// Wire bytes (prefix included) of whole messages delivered and not yet read.
    private(set) var queuedBytes = 0
    /// Window credit withheld while the reader lags.
    private(set) var heldWindow = 0

    init(maxMessageSize: Int, maxQueuedBytes: Int) {
        self.deframer = GRPCMessageDeframer(maxMessageSize: maxMessageSize)
        self.maxQueuedBytes = maxQueuedBytes
    }

    /// Whether bytes of an unfinished message are held (an error if the stream ends now).
    var hasPartialMessage: Bool { self.deframer.hasPartialMessage }

    /// Takes one DATA chunk, hands every whole message to `deliver`, and says what to do with the window.
    mutating func receive(_ chunk: ByteBuffer, deliver: ([UInt8]) -> Void) -> Outcome {
        let count = chunk.readableBytes
        self.deframer.append(chunk)
        while let output = self.deframer.next() {
            switch output {
            case .message(let message):
                self.queuedBytes += message.count + 5
                deliver(message)
            case .error(let status):
                return .failed(status)
            }
        }
        if self.queuedBytes <= self.maxQueuedBytes { return .reopen(count) }
        self.heldWindow += count
        return .reopen(0)
    }

    /// The application read a message of `wireBytes` (prefix included).
    ///
    /// - Returns: the withheld window to reopen now (0 while the reader still lags).
    mutating func read(wireBytes: Int) -> Int {
        self.queuedBytes -= wireBytes
        guard self.heldWindow > 0, self.queuedBytes <= self.maxQueuedBytes else { return 0 }
        defer { self.heldWindow = 0 }
        return self.heldWindow
    }
}
