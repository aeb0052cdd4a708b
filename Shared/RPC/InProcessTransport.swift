import Synchronization

/// A client transport that calls a `Router` in the same process, with no sockets and no encoding
/// beyond the messages themselves. For service tests: the same handlers, interceptors, statuses and
/// deadlines as over HTTP/2.
public final class InProcessTransport: ClientTransport {
    private let router: Router
    private let peer: PeerInfo

    /// Creates a transport to `router`; handlers see `peer` as the caller (e.g. with a TLS identity,
    /// to test identity checks).
    public init(router: Router, peer: PeerInfo = PeerInfo(address: "in-process")) {
        self.router = router
        self.peer = peer
    }

    /// Starts a call: its handler runs in a new task.
    public func openStream(method: MethodDescriptor, metadata: Metadata, options: CallOptions) async throws
        -> any ClientCallStream
    {
        let call = InProcessCall()
        guard let serverMethod = self.router.method(forPath: method.path) else {
            call.outcome.publishStatus(self.router.unimplementedStatus(forPath: method.path), [:])
            call.responses.finish()
            return InProcessClientStream(call: call)
        }
        var requestMetadata = Metadata()
        for entry in metadata where Metadata.wireValue(for: entry) != nil {
            requestMetadata.add(contentsOf: [entry.key: entry.value])
        }
        let deadline = options.timeout.map { ContinuousClock.now + $0 }
        let context = ServerContext(
            method: serverMethod.descriptor, requestMetadata: requestMetadata, peer: self.peer, deadline: deadline)
        let router = self.router
        let task = Task {
            await router.run(serverMethod, stream: InProcessServerStream(call: call), context: context)
        }
        call.setServerTask(task)
        if let deadline {
            Task {
                try await Task.sleep(until: deadline, clock: .continuous)
                call.cancel(RPCError(code: .deadlineExceeded, message: "Deadline exceeded"))
            }
        }
        return InProcessClientStream(call: call)
    }
}

/// The state shared by both ends of one in-process call.
final class InProcessCall: Sendable {
    /// Small buffers, so a fast sender waits for a slow reader as it would under flow control.
    let requests = MessageBuffer(capacity: 16)
    let responses = MessageBuffer(capacity: 16)
    let outcome = CallOutcome()
    private let serverTask = Mutex<Task<Void, Never>?>(nil)

    func setServerTask(_ task: Task<Void, Never>) {
        self.serverTask.withLock { $0 = task }
        if self.outcome.isFinished { task.cancel() }
    }

    func cancel(_ error: RPCError) {
        guard self.outcome.publishStatus(error.status, error.metadata) else { return }
        self.responses.fail(error)
        self.requests.fail(RPCError(code: .cancelled, message: "Call cancelled"))
        self.serverTask.withLock { $0 }?.cancel()
    }
}

/// The client end of an in-process call.
struct InProcessClientStream: ClientCallStream {
    let call: InProcessCall

    /// Sends one request message; once the call has ended, throws its final status (as the HTTP/2
    /// transport does), not the request buffer's own error.
    func send(_ message: [UInt8]) async throws {
        do {
            try await self.call.requests.send(message)
        } catch {
            throw self.call.outcome.failure ?? error
        }
    }

    func closeSend() {
        self.call.requests.finish()
    }

    func receiveHeaders() async throws -> Metadata {
        await self.call.outcome.headers()
    }

    func receive() async throws -> [UInt8]? {
        try await self.call.responses.receive()
    }

    func receiveStatus() async -> (status: Status, trailers: Metadata) {
        await self.call.outcome.status()
    }

    func cancel(_ error: RPCError) {
        self.call.cancel(error)
    }
}

/// The server end of an in-process call.
struct InProcessServerStream: ServerCallStream {
    let call: InProcessCall

    func receive() async throws -> [UInt8]? {
        try await self.call.requests.receive()
    }

    func sendHeaders(_ metadata: Metadata) {
        self.call.outcome.publishHeaders(metadata)
    }

    func send(_ message: [UInt8]) async throws {
        guard !self.call.outcome.isFinished else { throw RPCError(code: .cancelled, message: "Call already ended") }
        try await self.call.responses.send(message)
    }

    func finish(status: Status, trailers: Metadata) {
        guard self.call.outcome.publishStatus(status, trailers) else { return }
        self.call.responses.finish()
        self.call.requests.fail(RPCError(code: .cancelled, message: "Call already ended"))
    }
}
