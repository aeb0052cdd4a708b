import SkyportHTTP2

/// The host end of one instance's host socket (a ``LineSocket``): a Unix domain socket the host
/// listens on, which the application connects to once. Newline-delimited JSON flows both ways
/// (``HostToAppMessage``, ``AppToHostMessage``), at most 2 MiB a line; each line the application sends
/// is decoded on the loop that read it. The rest of the host sees only ``events`` and ``send(_:)``.
final class AppChannel: Sendable {
    /// What the application sent: a message, a line the contract does not allow, or the end.
    enum Event: Sendable {
        case message(AppToHostMessage)
        case badLine(AppToHostMessage.DecodingError)
        /// A line over the 2 MiB limit: nothing more is read.
        case lineTooLong
    }

    /// Why the channel could not be set up.
    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// The contract's line limit.
    static let maximumLineBytes = 2 * 1024 * 1024

    /// The socket's path (the application's `SKYPORT_HOST_SOCKET`).
    var path: String { self.socket.path }
    /// What the application sends, in order; finishes when the connection ends or the channel closes.
    let events: AsyncStream<Event>
    private let socket: LineSocket

    /// Listens at `path`, replacing a stale socket file there. Synchronous, so that the runtime records
    /// the instance before any other job of its actor runs.
    init(path: String) throws(SetupError) {
        let (events, continuation) = AsyncStream.makeStream(of: Event.self)
        self.events = events
        do throws(LineSocket.SetupError) {
            self.socket = try LineSocket(path: path, maximumLineBytes: Self.maximumLineBytes) { event in
                switch event {
                case .line(let line):
                    do throws(AppToHostMessage.DecodingError) {
                        continuation.yield(.message(try AppToHostMessage(line: line)))
                    } catch {
                        continuation.yield(.badLine(error))
                    }
                case .lineTooLong:
                    continuation.yield(.lineTooLong)
                case .ended:
                    continuation.finish()
                }
            }
        } catch {
            continuation.finish()
            throw SetupError(description: error.description)
        }
    }

    /// Queues `message` for the application: written now when it is connected, when it connects
    /// otherwise; dropped once the channel is closed.
    func send(_ message: HostToAppMessage) {
        self.socket.send(message.encodedLine())
    }

    /// Closes the channel: the application sees its socket close, ``events`` finishes.
    func close() {
        self.socket.close()
    }
}
