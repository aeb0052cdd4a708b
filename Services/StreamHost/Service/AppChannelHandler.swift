internal import NIOCore

/// Reads the application's side of the host socket: splits it into lines (``LineFramer``), decodes
/// each and hands it to ``AppChannel/events``; finishes them when the connection ends.
final class AppChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let owner: AppChannel
    private var framer = LineFramer()
    private var stopped = false

    init(owner: AppChannel) {
        self.owner = owner
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
            // Reading stops and the runtime ends the instance. The socket stays open until then, so the
            // application blocks rather than failing on a closed socket first.
            self.stopped = true
            self.owner.yield(.lineTooLong)
            self.owner.finish()
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            return
        }
        for line in lines {
            do {
                self.owner.yield(.message(try AppToHostMessage(line: line)))
            } catch {
                self.owner.yield(.badLine(error))
            }
        }
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
