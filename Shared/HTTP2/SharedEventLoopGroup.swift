internal import Foundation
internal import NIOCore
internal import NIOPosix
#if canImport(Glibc)
    internal import Glibc
#endif

/// The event loops every Skyport server and client in the process share: NIO's singleton group,
/// living as long as the process. Other NIO servers of a Skyport process (the Prometheus endpoint) use
/// it too.
///
/// A Skyport executable calls ``runConcurrencyOnEventLoops()`` first thing, so the group has one loop
/// per CPU the process may run on and Swift concurrency runs its tasks on those loops as well.
public enum SharedEventLoopGroup {
    /// The group.
    static var group: MultiThreadedEventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    /// Sizes the group and makes it Swift concurrency's global executor. Call it once, at the start of
    /// `main`, before any NIO use.
    ///
    /// Why: without it every RPC handler, continuation and database result hops between the event loop
    /// that did the I/O and Swift's own thread pool, and each hop wakes a sleeping thread through a
    /// futex. Under session-start load that wake-up traffic was the largest single cost of the
    /// services. With the loops as the global executor, a task resumed on a loop stays on it.
    ///
    /// Sizing: NIO's singleton sizes itself by cgroup quota or core count and ignores the CPU affinity
    /// mask, so a server pinned with `taskset -c 1` would run two loops on one CPU and pay for switching
    /// between them. This counts the affinity mask as well (`NIO_SINGLETON_GROUP_LOOP_COUNT` still
    /// wins when set).
    ///
    /// Main actor: NIO allows the installation from the main thread only, and an `async` command's
    /// `run()` is not on it, so a caller there awaits the hop.
    ///
    /// - Returns: whether the executor was installed (it is not on platforms NIO does not support).
    @MainActor @discardableResult
    public static func runConcurrencyOnEventLoops() -> Bool {
        if ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil {
            NIOSingletons.groupLoopCountSuggestion = usableCPUCount()
        }
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// Runs `body` on one of the shared event loops once `delay` has passed: an entry in that loop's
    /// timer heap. Prefer it to a task sleeping in `Task.sleep` for timers that are set often and mostly
    /// moot (a deadline per session): such a sleep takes a Dispatch timer, whose firing wakes a Dispatch
    /// thread that then hands the task back to the loops.
    public static func after(_ delay: Duration, _ body: @escaping @Sendable () -> Void) {
        // The caller's own loop when it runs on one: no other thread is woken to arm the timer.
        _ = Self.group.any().scheduleTask(in: .init(delay)) { body() }
    }

    /// Suspends the calling task for `delay` on a shared loop's timer (see ``after(_:_:)``): for a task
    /// that sleeps often, such as a benchmark's pacer, where `Task.sleep` would wake a Dispatch thread
    /// per sleep. Not cancellable: the timer fires after `delay` whatever happens to the task.
    public static func sleep(for delay: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Self.after(delay) { continuation.resume() }
        }
    }

    /// The CPUs this process may run on: the affinity mask, capped by NIO's count (cgroup quota).
    static func usableCPUCount() -> Int {
        guard let allowed = affinityCPUCount(), allowed > 0 else { return System.coreCount }
        return min(allowed, System.coreCount)
    }

    /// The number of CPUs in the affinity mask, from `Cpus_allowed` in `/proc/self/status`
    /// (`sched_getaffinity` is not importable without `_GNU_SOURCE`).
    private static func affinityCPUCount() -> Int? {
        #if os(Linux)
            let fd = open("/proc/self/status", O_RDONLY)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var bytes = [UInt8](repeating: 0, count: 16 * 1024)
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { return nil }
            let status = String(decoding: bytes[..<count], as: UTF8.self)
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else {
                return nil
            }
            return line.dropFirst("Cpus_allowed:".count).reduce(0) { total, character in
                total + (character.hexDigitValue?.nonzeroBitCount ?? 0)
            }
        #else
            return nil
        #endif
    }
}
