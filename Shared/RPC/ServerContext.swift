import Synchronization

/// What a server handler knows about its call, and where it puts the metadata it sends back.
///
/// One context exists per call. It is a reference type so that handlers and interceptors can add
/// response metadata without threading it through return values.
public final class ServerContext: Sendable {
    /// The method being called.
    public let method: MethodDescriptor
    /// Custom metadata the client sent (reserved headers removed).
    public let requestMetadata: Metadata
    /// The client.
    public let peer: PeerInfo
    /// When the call must end, from the client's `grpc-timeout`; `nil` when it set none.
    public let deadline: ContinuousClock.Instant?

    private let response = Mutex<(initial: Metadata, trailing: Metadata)>(([:], [:]))

    /// Creates a context; transports call this.
    public init(
        method: MethodDescriptor, requestMetadata: Metadata, peer: PeerInfo,
        deadline: ContinuousClock.Instant?
    ) {
        self.method = method
        self.requestMetadata = requestMetadata
        self.peer = peer
        self.deadline = deadline
    }

    /// Metadata sent with the response headers. Changes after the first response message are ignored.
    public var initialResponseMetadata: Metadata {
        get { self.response.withLock { $0.initial } }
        set { self.response.withLock { $0.initial = newValue } }
    }

    /// Metadata sent with the status trailers.
    public var trailingResponseMetadata: Metadata {
        get { self.response.withLock { $0.trailing } }
        set { self.response.withLock { $0.trailing = newValue } }
    }

    /// Whether the deadline has passed.
    public var isPastDeadline: Bool {
        guard let deadline else { return false }
        return ContinuousClock.now >= deadline
    }
}
