import Synchronization

/// A queue of encoded messages between a producer and one async consumer, ending in success or an
/// error.
///
/// Transports use it for the inbound side of a stream; the in-process transport uses it both ways with
/// a capacity, so a fast sender suspends instead of growing the queue without bound. It is deliberately
/// not generic: a generic class used from other modules is not specialised, and every lock of its
/// state would look up generic metadata at run time (measured at ~10% of a unary call).
package final class MessageBuffer: Sendable {
    /// One encoded message.
    package typealias Element = [UInt8]

    private struct State {
        var queue: [Element] = []
        var head = 0
        var end: RPCError?? = nil
        var receiver: CheckedContinuation<Element?, any Error>?
        var senders: [(id: Int, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextSenderID = 0

        var count: Int { self.queue.count - self.head }

        mutating func popFirst() -> Element? {
            guard self.head < self.queue.count else { return nil }
            let element = self.queue[self.head]
            self.head += 1
            if self.head == self.queue.count {
                self.queue.removeAll(keepingCapacity: true)
                self.head = 0
            } else if self.head > 64 && self.head * 2 > self.queue.count {
                self.queue.removeFirst(self.head)
                self.head = 0
            }
            return element
        }
    }

    private let state = Mutex(State())
    private let capacity: Int

    /// Creates a buffer; `send(_:)` suspends while `capacity` elements are queued.
    package init(capacity: Int = .max) {
        self.capacity = capacity
    }

    /// Queues an element without waiting; returns false when the buffer has ended.
    @discardableResult
    package func append(_ element: Element) -> Bool {
        let receiver: CheckedContinuation<Element?, any Error>? = self.state.withLock { state in
            guard state.end == nil else { return nil }
            if let receiver = state.receiver {
                state.receiver = nil
                return receiver
            }
            state.queue.append(element)
            return nil
        }
        receiver?.resume(returning: element)
        return true
    }

    /// Queues an element, suspending while the buffer is at capacity.
    package func send(_ element: Element) async throws {
        let id: Int? = try self.state.withLock { state in
            if let end = state.end { throw end ?? RPCError(code: .cancelled, message: "Stream closed") }
            guard state.count >= self.capacity else { return nil }
            state.nextSenderID += 1
            return state.nextSenderID
        }
        if let id {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let immediate: Result<Void, any Error>? = self.state.withLock { state in
                        if let end = state.end {
                            return .failure(end ?? RPCError(code: .cancelled, message: "Stream closed"))
                        }
                        if Task.isCancelled { return .failure(CancellationError()) }
                        if state.count < self.capacity { return .success(()) }
                        state.senders.append((id, continuation))
                        return nil
                    }
                    if let immediate { continuation.resume(with: immediate) }
                }
            } onCancel: {
                let waiter = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
                    guard let index = state.senders.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.senders.remove(at: index).continuation
                }
                waiter?.resume(throwing: CancellationError())
            }
        }
        guard self.append(element) else {
            throw RPCError(code: .cancelled, message: "Stream closed")
        }
    }

    /// The next element, or `nil` once the buffer has finished and is empty.
    ///
    /// - Throws: the error the buffer finished with, or `CancellationError` if the task is cancelled
    ///   while waiting.
    package func receive() async throws -> Element? {
        if let ready = try self.state.withLock({ state -> Element?? in
            if let element = state.popFirst() { return .some(element) }
            if let end = state.end {
                if let error = end { throw error }
                return .some(nil)
            }
            return nil
        }) {
            self.wakeSender()
            return ready
        }
        let element = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Element?, any Error>) in
                let immediate: Result<Element?, any Error>? = self.state.withLock { state in
                    if let element = state.popFirst() { return .success(element) }
                    if let end = state.end { return end.map { .failure($0) } ?? .success(nil) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    precondition(state.receiver == nil, "MessageBuffer supports one receiver at a time")
                    state.receiver = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let receiver = self.state.withLock { state -> CheckedContinuation<Element?, any Error>? in
                defer { state.receiver = nil }
                return state.receiver
            }
            receiver?.resume(throwing: CancellationError())
        }
        self.wakeSender()
        return element
    }

    /// Ends the buffer: queued elements are still delivered, then `nil` (or `error` is thrown).
    /// Waiting senders fail. Only the first call has an effect.
    package func finish(throwing error: RPCError? = nil) {
        let (receiver, senders): (CheckedContinuation<Element?, any Error>?, [CheckedContinuation<Void, any Error>]) =
            self.state.withLock { state in
                guard state.end == nil else { return (nil, []) }
                state.end = .some(error)
                let senders = state.senders.map(\.continuation)
                state.senders = []
                guard state.count == 0, let receiver = state.receiver else { return (nil, senders) }
                state.receiver = nil
                return (receiver, senders)
            }
        if let receiver {
            if let error { receiver.resume(throwing: error) } else { receiver.resume(returning: nil) }
        }
        let senderError = error ?? RPCError(code: .cancelled, message: "Stream closed")
        for sender in senders { sender.resume(throwing: senderError) }
    }

    /// Ends the buffer with `error` and drops what is queued, so the receiver sees the error next, even
    /// when the buffer had already finished normally.
    package func fail(_ error: RPCError) {
        let (receiver, senders): (CheckedContinuation<Element?, any Error>?, [CheckedContinuation<Void, any Error>]) =
            self.state.withLock { state in
                if case .some(.some) = state.end { return (nil, []) }
                state.end = .some(error)
                state.queue.removeAll()
                state.head = 0
                let senders = state.senders.map(\.continuation)
                state.senders = []
                defer { state.receiver = nil }
                return (state.receiver, senders)
            }
        receiver?.resume(throwing: error)
        for sender in senders { sender.resume(throwing: error) }
    }

    /// The number of queued elements.
    package var count: Int { self.state.withLock { $0.count } }

    private func wakeSender() {
        let sender = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard !state.senders.isEmpty, state.count < self.capacity else { return nil }
            return state.senders.removeFirst().continuation
        }
        sender?.resume()
    }
}
