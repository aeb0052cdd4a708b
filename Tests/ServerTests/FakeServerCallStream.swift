import SkyportRPC
import Synchronization

/// A `ServerCallStream` with no transport: the test pushes request bytes and reads what the
/// handler sent. Enough to drive a `ServerMethod.handler` directly.
final class FakeServerCallStream: ServerCallStream {
    private struct State {
        var inbound: [[UInt8]] = []
        var inboundClosed = false
        var waiter: CheckedContinuation<[UInt8]?, Never>?
        var headersSent = false
        var status: Status?
    }

    private let state = Mutex(State())
    /// Every response message the handler sent, in order; finishes with the call.
    let sent: AsyncStream<[UInt8]>
    private let sentContinuation: AsyncStream<[UInt8]>.Continuation

    init() {
        (self.sent, self.sentContinuation) = AsyncStream.makeStream(of: [UInt8].self)
    }

    /// Queues one request message for the handler.
    func push(_ message: [UInt8]) {
        let waiter = self.state.withLock { state -> CheckedContinuation<[UInt8]?, Never>? in
            guard let waiter = state.waiter else {
                state.inbound.append(message)
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: message)
    }

    /// Half-closes the request side.
    func closeRequests() {
        let waiter = self.state.withLock { state -> CheckedContinuation<[UInt8]?, Never>? in
            state.inboundClosed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    var status: Status? { self.state.withLock { $0.status } }

    func receive() async throws -> [UInt8]? {
        await withCheckedContinuation { continuation in
            let ready = self.state.withLock { state -> [UInt8]?? in
                if !state.inbound.isEmpty { return .some(state.inbound.removeFirst()) }
                if state.inboundClosed { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    func sendHeaders(_ metadata: Metadata) {
        self.state.withLock { $0.headersSent = true }
    }

    func send(_ message: [UInt8]) async throws {
        self.sentContinuation.yield(message)
    }

    func finish(status: Status, trailers: Metadata) {
        self.state.withLock { state in
            if state.status == nil { state.status = status }
        }
        self.sentContinuation.finish()
    }
}

extension ServerMethod {
    /// Runs the handler on `stream` as a router would: a thrown error becomes the call's status.
    func run(on stream: FakeServerCallStream) async {
        let context = ServerContext(
            method: self.descriptor, requestMetadata: [:], peer: PeerInfo(address: "in-process"), deadline: nil)
        do {
            try await self.handler(stream, context)
            stream.finish(status: .ok, trailers: [:])
        } catch let error as RPCError {
            stream.finish(status: error.status, trailers: error.metadata)
        } catch {
            stream.finish(status: Status(code: .unknown, message: "\(error)"), trailers: [:])
        }
    }
}

extension RPCService {
    /// The method registered for `descriptor`.
    func method(_ descriptor: MethodDescriptor) -> ServerMethod? {
        self.methods.first { $0.descriptor == descriptor }
    }
}
