/// Polls `condition` until it holds or `timeout` passes, for effects that happen on other tasks or
/// threads (a handler being cancelled, a connection being released).
///
/// - Returns: whether the condition held in time.
public func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
