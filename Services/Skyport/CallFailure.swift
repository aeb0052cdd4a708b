/// A failure of `skyport call` that is not a gRPC status.
enum CallFailure: Error {
    /// The user's input is wrong (exit status 2).
    case badInput(String)
    /// Anything else local (exit status 1).
    case local(String)
}
