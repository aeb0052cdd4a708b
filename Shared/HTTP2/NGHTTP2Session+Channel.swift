internal import NIOCore
internal import SkyportInterop
internal import SkyportRPC

extension NGHTTP2Session {
    /// Writes every pending frame to the channel while it is writable, then flushes once.
    ///
    /// Sending can close or end streams; `processEvents` runs whenever it did, and may queue more
    /// frames (RST_STREAM), which are written in the same pass. A channel that stops being writable
    /// ends the pass; the caller writes again when writability returns.
    ///
    /// - Throws: `NGHTTP2Error` on a fatal session error, after writing what was produced before it.
    func write(to context: ChannelHandlerContext, processEvents: () -> Void) throws(NGHTTP2Error) {
        var wrote = false
        defer { if wrote { context.flush() } }
        while context.channel.isWritable {
            var buffer = context.channel.allocator.buffer(capacity: 16 * 1024)
            let more: Bool
            do {
                more = try self.send(into: &buffer, limit: 256 * 1024)
            } catch {
                if buffer.readableBytes > 0 { context.write(NIOAny(buffer), promise: nil) }
                wrote = true
                throw error
            }
            if buffer.readableBytes > 0 {
                context.write(NIOAny(buffer), promise: nil)
                wrote = true
            }
            if self.hasEvents {
                processEvents()
                continue
            }
            if !more { return }
        }
    }
}

extension MessageBuffer {
    /// The next received message, or `nil` at the end of the stream; a cancelled wait reads as
    /// CANCELLED, the way the call's status would report it.
    func receiveMessage() async throws -> [UInt8]? {
        do {
            return try await self.receive()
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .cancelled, message: "Call cancelled")
        }
    }
}
