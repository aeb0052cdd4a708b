import Foundation
import SkyportInterop
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An application process: started with `posix_spawn` in a process group of its own (so signals reach
/// everything it starts, and a Ctrl-C at the host's terminal does not), reaped by a thread of its own
/// that blocks in `waitpid` for exactly this pid.
final class ChildProcess: Sendable {
    /// How a process ended.
    enum Termination: Sendable, Hashable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        /// `exited N` or `killed by signal N`: the reason events and logs carry.
        var description: String {
            switch self {
            case .exited(let code): "exited \(code)"
            case .signalled(let signal): "killed by signal \(signal)"
            }
        }
    }

    /// Why a process could not be started.
    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    private enum State {
        case running(waiters: [UUID: CheckedContinuation<Termination?, Never>])
        case ended(Termination)
    }

    /// The process id, also its process group id.
    let pid: pid_t
    private let state = Mutex(State.running(waiters: [:]))

    /// Starts `executable` with `arguments` and exactly `environment`, in `workingDirectory`, with
    /// standard input from /dev/null and standard output and error appended to `logFile`. Every other
    /// descriptor of the host is closed in the child.
    init(
        executable: String, arguments: [String], environment: [String: String], workingDirectory: String,
        logFile: String
    ) throws(SpawnError) {
        do {
            // The host handles SIGCHLD itself; the application gets the default.
            self.pid = try ProcessSpawner.spawn(
                executable: executable, arguments: arguments, environment: environment, logFile: logFile,
                workingDirectory: workingDirectory, closeOtherDescriptors: true,
                extraDefaultSignals: [SIGCHLD])
        } catch {
            throw SpawnError(description: error.description)
        }
        let reaper = Thread { [self] in self.reap() }
        reaper.name = "child-reaper-\(pid)"
        reaper.start()
    }

    /// Sends `signal` to the process group, unless the process has been reaped (its pid, and so its
    /// group id, may belong to someone else by then).
    func signalGroup(_ signal: Int32) {
        self.state.withLock { state in
            if case .running = state { _ = kill(-self.pid, signal) }
        }
    }

    /// How it ended; waits until it has, or returns `nil` when the calling task is cancelled first.
    func termination() async -> Termination? {
        let id = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Termination?, Never>) in
                let ended = self.state.withLock { state -> Termination?? in
                    switch state {
                    case .running(var waiters):
                        if Task.isCancelled { return .some(nil) }
                        waiters[id] = continuation
                        state = .running(waiters: waiters)
                        return nil
                    case .ended(let termination):
                        return .some(termination)
                    }
                }
                if let ended { continuation.resume(returning: ended) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> CheckedContinuation<Termination?, Never>? in
                guard case .running(var waiters) = state else { return nil }
                let waiter = waiters.removeValue(forKey: id)
                state = .running(waiters: waiters)
                return waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// Whether it ends within `timeout`.
    func hasEnded(within timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.termination() != nil }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// How it ended, or `nil` while it runs.
    var ended: Termination? {
        self.state.withLock { state in
            if case .ended(let termination) = state { return termination }
            return nil
        }
    }

    private func reap() {
        var status: Int32 = 0
        while waitpid(self.pid, &status, 0) < 0 && errno == EINTR {}
        // What the application started itself must not outlive it: its group goes too. (While any member
        // lives, the group id cannot be reused; with none left this finds nothing.)
        _ = kill(-self.pid, SIGKILL)
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
        let termination: Termination =
            status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
        let waiters = self.state.withLock { state -> [CheckedContinuation<Termination?, Never>] in
            guard case .running(let waiters) = state else { return [] }
            state = .ended(termination)
            return Array(waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: termination) }
    }
}
