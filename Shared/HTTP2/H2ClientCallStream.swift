internal import NIOCore
internal import SkyportRPC

/// The client side of one HTTP/2 stream.
///
/// The connection handler publishes headers and status here from its event loop; sending and
/// cancelling hop to that loop.
final class H2ClientCallStream: ClientCallStream {
    let streamID: Int32
    let inbound = MessageBuffer()
    private let outcome = CallOutcome()
    private let eventLoop: any EventLoop
    private let connection: NIOLoopBound<ClientConnectionHandler>
    private let allocator: ByteBufferAllocator

    init(
        streamID: Int32, connection: ClientConnectionHandler, eventLoop: any EventLoop,
        allocator: ByteBufferAllocator
    ) {
        self.streamID = streamID
        self.eventLoop = eventLoop
        self.connection = NIOLoopBound(connection, eventLoop: eventLoop)
        self.allocator = allocator
    }

    // MARK: Published by the connection

    /// The response headers arrived.
    func publishHeaders(_ metadata: Metadata) {
        self.outcome.publishHeaders(metadata)
    }

    /// The call ended; the first status wins. Messages already received stay readable only when the
    /// status came in trailers (`keepMessages`); otherwise reading fails with the status.
    func publishStatus(_ status: Status, _ trailers: Metadata, keepMessages: Bool) {
        guard self.outcome.publishStatus(status, trailers) else { return }
        if keepMessages {
            self.inbound.finish()
        } else {
            self.inbound.fail(RPCError(status: status, metadata: trailers))
        }
    }

    var isFinished: Bool { self.outcome.isFinished }

    // MARK: ClientCallStream

    func send(_ message: [UInt8]) async throws {
        let frame = frameGRPCMessage(message, allocator: self.allocator)
        let streamID = self.streamID
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                self.onLoop { $0.enqueue(streamID: streamID, frame, continuation) }
            }
        } catch {
            // A send that lost the race with the end of the call reports how the call ended.
            throw self.outcome.failure ?? error
        }
    }

    func closeSend() {
        let streamID = self.streamID
        self.onLoop { $0.closeSend(streamID: streamID) }
    }

    func receiveHeaders() async throws -> Metadata {
        await self.outcome.headers()
    }

    func receive() async throws -> [UInt8]? {
        let message = try await self.inbound.receiveMessage()
        if let message {
            let streamID = self.streamID
            self.onLoop { $0.consumed(streamID: streamID, bytes: message.count + 5) }
        }
        return message
    }

    func receiveStatus() async -> (status: Status, trailers: Metadata) {
        await self.outcome.status()
    }

    func cancel(_ error: RPCError) {
        guard !self.isFinished else { return }
        let streamID = self.streamID
        self.onLoop { $0.cancel(streamID: streamID, error) }
    }

    private func onLoop(_ body: @escaping @Sendable (ClientConnectionHandler) -> Void) {
        if self.eventLoop.inEventLoop {
            body(self.connection.value)
        } else {
            self.eventLoop.execute { body(self.connection.value) }
        }
    }
}
