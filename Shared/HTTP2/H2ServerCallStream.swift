internal import NIOCore
internal import SkyportRPC

/// The server side of one HTTP/2 stream, as the router and handlers see it.
///
/// Handler tasks run on the connection's event loop (see `EventLoopTaskExecutor`), so every call
/// below normally runs straight through; from another thread it hops to the loop.
final class H2ServerCallStream: ServerCallStream {
    let streamID: Int32
    let eventLoop: any EventLoop
    let inbound = MessageBuffer()
    private let connection: NIOLoopBound<ServerConnectionHandler>
    private let allocator: ByteBufferAllocator

    init(
        streamID: Int32, connection: ServerConnectionHandler, eventLoop: any EventLoop,
        allocator: ByteBufferAllocator
    ) {
        self.streamID = streamID
        self.eventLoop = eventLoop
        self.connection = NIOLoopBound(connection, eventLoop: eventLoop)
        self.allocator = allocator
    }

    func receive() async throws -> [UInt8]? {
        let message = try await self.inbound.receiveMessage()
        if let message {
            let streamID = self.streamID
            if self.eventLoop.inEventLoop {
                self.connection.value.consumed(streamID: streamID, bytes: message.count + 5)
            } else {
                self.onLoop { $0.consumed(streamID: streamID, bytes: message.count + 5) }
            }
        }
        return message
    }

    func sendHeaders(_ metadata: Metadata) {
        if self.eventLoop.inEventLoop {
            self.connection.value.sendHeaders(streamID: self.streamID, metadata)
        } else {
            let streamID = self.streamID
            self.onLoop { $0.sendHeaders(streamID: streamID, metadata) }
        }
    }

    func send(_ message: [UInt8]) async throws {
        let frame = frameGRPCMessage(message, allocator: self.allocator)
        let streamID = self.streamID
        if self.eventLoop.inEventLoop {
            switch self.connection.value.enqueue(streamID: streamID, frame) {
            case .accepted: return
            case .closed(let error): throw error
            case .full: break
            }
            try await withCheckedThrowingContinuation { continuation in
                self.connection.value.waitForCapacity(streamID: streamID, continuation)
            }
        } else {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                self.eventLoop.execute {
                    let connection = self.connection.value
                    switch connection.enqueue(streamID: streamID, frame) {
                    case .accepted: continuation.resume()
                    case .closed(let error): continuation.resume(throwing: error)
                    case .full: connection.waitForCapacity(streamID: streamID, continuation)
                    }
                }
            }
        }
    }

    func finish(status: Status, trailers: Metadata) {
        if self.eventLoop.inEventLoop {
            self.connection.value.finish(streamID: self.streamID, status: status, trailers: trailers)
        } else {
            let streamID = self.streamID
            self.onLoop { $0.finish(streamID: streamID, status: status, trailers: trailers) }
        }
    }

    /// Runs `body` on the event loop from another thread. On the loop, the methods above call the
    /// connection directly instead, which avoids allocating a closure per call.
    private func onLoop(_ body: @escaping @Sendable (ServerConnectionHandler) -> Void) {
        self.eventLoop.execute { body(self.connection.value) }
    }
}
