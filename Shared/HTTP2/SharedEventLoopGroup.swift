internal import NIOCore
internal import NIOPosix
#if canImport(Glibc)
    internal import Glibc
#endif

/// The event loops every Skyport server and client in the process share: one thread per CPU the
/// process may run on, living as long as the process.
///
/// NIO's own singleton sizes itself by cgroup quota or core count and ignores the CPU affinity mask,
/// so a server pinned with `taskset -c 1` would run two loops on one CPU and pay for switching
/// between them. This group counts the affinity mask as well. Other NIO servers of a Skyport process
/// (the Prometheus endpoint) use it too.
enum SharedEventLoopGroup {
    /// The group.
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: usableCPUCount())

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
