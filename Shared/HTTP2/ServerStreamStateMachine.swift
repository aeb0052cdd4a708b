/// The response side of one server stream: headers, then messages, then trailers; or a single
/// trailers-only HEADERS frame when the call ends before any headers went out.
///
/// A value type with no I/O; `ServerConnectionHandler` performs the actions it returns.
struct ServerStreamStateMachine: Equatable {
    enum State: Equatable {
        /// Nothing sent yet.
        case idle
        /// Response headers sent; messages may follow.
        case streaming
        /// The status went out (or the stream was reset); nothing more may be sent.
        case finished
    }

    enum HeadersAction: Equatable {
        case submitHeaders
        case none
    }

    enum SendAction: Equatable {
        /// Headers were never sent: send empty headers first, then the message.
        case submitHeadersThenData
        case submitData
        case reject
    }

    enum FinishAction: Equatable {
        case submitTrailersOnly
        case submitTrailers
        case none
    }

    private(set) var state: State = .idle

    var isFinished: Bool { self.state == .finished }

    mutating func sendHeaders() -> HeadersAction {
        guard self.state == .idle else { return .none }
        self.state = .streaming
        return .submitHeaders
    }

    mutating func sendMessage() -> SendAction {
        switch self.state {
        case .idle:
            self.state = .streaming
            return .submitHeadersThenData
        case .streaming:
            return .submitData
        case .finished:
            return .reject
        }
    }

    mutating func finish() -> FinishAction {
        switch self.state {
        case .idle:
            self.state = .finished
            return .submitTrailersOnly
        case .streaming:
            self.state = .finished
            return .submitTrailers
        case .finished:
            return .none
        }
    }

    /// The stream was reset or closed under us.
    mutating func reset() {
        self.state = .finished
    }
}
