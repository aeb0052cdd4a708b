internal import NIOCore

/// Reads the peer's side of a ``LineSocket``: splits it into lines (``LineFramer``) and hands each to
/// the socket's owner; sends `ended` when the connection ends.
final class LineSocketHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let owner: LineSocket
    private var framer: LineFramer
    private var stopped = false

    init(owner: LineSocket, maximumLineBytes: Int) {
        self.owner = owner
        self.framer = LineFramer(maximumLineBytes: maximumLineBytes)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.owner.connected(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.stopped else { return }
        let bytes = Self.unwrapInboundIn(data).readableBytesView
        let lines: [[UInt8]]
        do {
            lines = try self.framer.append(bytes)
        } catch {
            // Reading stops; the socket stays open until its owner closes it, so the peer blocks rather than
            // failing on a closed socket first.
            self.stopped = true
            self.owner.deliver(.lineTooLong)
            self.owner.finish()
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            return
        }
        for line in lines { self.owner.deliver(.line(line)) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.owner.finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Also when the connection never became active.
        self.owner.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset or a failed write: the connection is over either way.
        context.close(promise: nil)
    }
}
