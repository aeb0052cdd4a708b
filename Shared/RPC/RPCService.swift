/// A set of methods served together under one service name. Generated service protocols refine it.
public protocol RPCService: Sendable {
    /// Every method of the service, with handlers bound to this instance.
    var methods: [ServerMethod] { get }
}
