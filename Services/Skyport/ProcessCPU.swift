import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// CPU time of the suite's processes, of the applications its stream hosts run, and of this one, read
/// from `/proc/<pid>/stat` (user + system, all threads), so `skyport bench-sessions` can say what a start
/// costs each process. Linux only: elsewhere ``snapshot()`` is empty and the bench prints no CPU rows.
struct ProcessCPU: Sendable {
    /// A process to measure: its display name and pid.
    struct Measured: Sendable, Hashable {
        var name: String
        var pid: Int32
    }

    /// CPU seconds used so far, by process name.
    typealias Snapshot = [String: Double]

    let processes: [Measured]

    /// The suite's instances and this process, shown as `client`.
    init(state: SuiteState) {
        self.init(
            processes: state.instances.map { Measured(name: $0.name, pid: $0.pid) }
                + [Measured(name: "client", pid: getpid())])
    }

    /// `processes`; the children of those named `streamhost…` are measured as `apps`.
    init(processes: [Measured]) {
        self.processes = processes
    }

    /// Each process's CPU seconds now, and as `apps` those of the stream hosts' children: the running
    /// application instances, and those that ended, which the stream host reaped (its `cutime` and
    /// `cstime`), so the figure only grows. A process that is gone or unreadable is left out.
    func snapshot() -> Snapshot {
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard ticksPerSecond > 0 else { return [:] }
        var seconds: Snapshot = [:]
        var reaped = 0
        for process in self.processes {
            guard let line = Self.stat(of: process.pid), let ticks = Self.cpuTicks(statLine: line) else { continue }
            seconds[process.name] = Double(ticks) / ticksPerSecond
            if process.name.hasPrefix("streamhost") { reaped += Self.reapedChildrenTicks(statLine: line) ?? 0 }
        }
        let hosts = Set(self.processes.filter { $0.name.hasPrefix("streamhost") }.map(\.pid))
        if !hosts.isEmpty, let running = Self.childrenTicks(of: hosts) {
            seconds["apps"] = Double(running + reaped) / ticksPerSecond
        }
        return seconds
    }

    /// The CPU ticks of every process whose parent is one of `parents`, summed; `nil` without `/proc`.
    static func childrenTicks(of parents: Set<Int32>) -> Int? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        var total = 0
        for entry in entries {
            guard let pid = Int32(entry), let line = Self.stat(of: pid), let parent = Self.parentPID(statLine: line),
                parents.contains(parent), let ticks = Self.cpuTicks(statLine: line)
            else { continue }
            total += ticks
        }
        return total
    }

    /// The `/proc/<pid>/stat` line of `pid`; `nil` when it is gone or unreadable.
    private static func stat(of pid: Int32) -> String? {
        try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    }

    /// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line.
    static func cpuTicks(statLine: String) -> Int? {
        Self.sum(ofFields: 14, 15, statLine: statLine)
    }

    /// `cutime + cstime` (fields 16 and 17) of a `/proc/<pid>/stat` line: the CPU ticks of the process's
    /// children that ended and were waited for.
    static func reapedChildrenTicks(statLine: String) -> Int? {
        Self.sum(ofFields: 16, 17, statLine: statLine)
    }

    /// The parent pid (field 4) of a `/proc/<pid>/stat` line.
    static func parentPID(statLine: String) -> Int32? {
        Self.fields(statLine: statLine).flatMap { $0.count >= 2 ? Int32($0[1]) : nil }
    }

    /// Fields `first` and `second` (numbered from 1, as in proc(5)) of a stat line, added.
    private static func sum(ofFields first: Int, _ second: Int, statLine: String) -> Int? {
        // Field 3 is the first after the name.
        guard let fields = Self.fields(statLine: statLine), fields.count > second - 3,
            let one = Int(fields[first - 3]), let other = Int(fields[second - 3])
        else { return nil }
        return one + other
    }

    /// The fields of a stat line from field 3 (the state) on. The command name (field 2) is in parentheses
    /// and may itself hold spaces and `)`, so fields are counted after its last `)`.
    private static func fields(statLine: String) -> [Substring]? {
        guard let close = statLine.lastIndex(of: ")") else { return nil }
        return statLine[statLine.index(after: close)...].split(separator: " ")
    }

    /// `all 4.91 ms: hostmgr-dc1 2.05, redemption 1.05, …`: milliseconds per start between two snapshots,
    /// largest first; processes under 0.05 ms are left out of the list, not of the total. `nil` when
    /// there is nothing to say (no /proc, no starts).
    static func perStart(from before: Snapshot, to after: Snapshot, starts: Int) -> String? {
        guard starts > 0, !before.isEmpty else { return nil }
        let milliseconds = after.compactMap { name, seconds -> (String, Double)? in
            guard let earlier = before[name] else { return nil }
            return (name, (seconds - earlier) * 1000 / Double(starts))
        }.sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        let total = milliseconds.reduce(0) { $0 + $1.1 }
        let listed = milliseconds.filter { $0.1 >= 0.05 }.map { "\($0.0) \(String(format: "%.2f", $0.1))" }
        return "all \(String(format: "%.2f", total)) ms: " + listed.joined(separator: ", ")
    }
}
