public import SkyportConfig
public import SkyportRPC
public import SkyportSecurity

/// A further RPC server of a service on its own address, for callers that hold no certificate of the
/// internal CA (a stream host's clients). It serves TLS with the service's own certificate and asks for
/// no client certificate; its methods follow its own ``accessPolicy``, so an internal method can never
/// be reached through it. It binds once the store is ready and drains after the background loops stop.
public struct PublicListener: Sendable {
    /// Names the listener in logs and in ``ServiceRuntime/waitUntilServing(listener:)``.
    public var name: String
    /// Where it listens; port 0 picks a free one.
    public var address: HostAndPort
    /// The services it serves (health and reflection are added).
    public var services: [any RPCService]
    /// Which methods are reachable and how they authenticate (typically `makePublic(…, .handler)`).
    public var accessPolicy: MethodAccessPolicy
    /// Called with the bound port once it listens (e.g. to advertise the real port when `address` asked
    /// for port 0).
    public var bound: @Sendable (Int) -> Void

    /// Creates a listener.
    public init(
        name: String, address: HostAndPort, services: [any RPCService], accessPolicy: MethodAccessPolicy,
        bound: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.name = name
        self.address = address
        self.services = services
        self.accessPolicy = accessPolicy
        self.bound = bound
    }
}
