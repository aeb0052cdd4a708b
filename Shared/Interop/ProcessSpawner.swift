#if canImport(Glibc)
    import Glibc
#endif

/// Starts child processes with `posix_spawn`: each in a process group of its own (so a signal to the
/// group reaches everything it starts, and a Ctrl-C at the parent's terminal does not), with the
/// parent's handled signals reset to their defaults and an empty signal mask, standard input from
/// /dev/null and standard output and error appended to a log file. Used by `skyport up` (services) and
/// the stream host (applications).
public enum ProcessSpawner {
    /// Why a process could not be started.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong, for people.
        public var description: String
    }

    /// Starts `executable` with `arguments` (after argv[0]) and exactly `environment`.
    ///
    /// - Parameters:
    ///   - workingDirectory: where the child starts (default: the parent's).
    ///   - closeOtherDescriptors: close every descriptor above 2 in the child (needs glibc 2.34+, as
    ///     `workingDirectory` does).
    ///   - extraDefaultSignals: signals besides SIGINT, SIGTERM, SIGHUP and SIGPIPE that the child gets
    ///     with their default disposition.
    /// - Returns: the child's pid, also its process group id.
    public static func spawn(
        executable: String, arguments: [String] = [], environment: [String: String], logFile: String,
        workingDirectory: String? = nil, closeOtherDescriptors: Bool = false,
        extraDefaultSignals: [Int32] = []
    ) throws(Failure) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        if workingDirectory != nil || closeOtherDescriptors {
            guard let extensions = Self.extensions else {
                throw Failure(description: "starting \(executable) this way needs glibc 2.34 or later")
            }
            if let workingDirectory {
                guard workingDirectory.withCString({ extensions.addChdir(&actions, $0) }) == 0 else {
                    throw Failure(description: "cannot prepare the start of \(executable) in \(workingDirectory)")
                }
            }
            if closeOtherDescriptors {
                guard extensions.addCloseFrom(&actions, 3) == 0 else {
                    throw Failure(description: "cannot prepare the start of \(executable)")
                }
            }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] + extraDefaultSignals { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let environmentLines: [String] = environment.map { key, value in "\(key)=\(value)" }.sorted()
        var envp = environmentLines.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, &argv, &envp)
        guard result == 0 else {
            throw Failure(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` and `…_addchdir_np` (2.34+), which Swift's
    /// Glibc module does not declare (they need `_GNU_SOURCE`): looked up once at run time.
    private struct Extensions: Sendable {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        typealias AddChdir =
            @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
        let addCloseFrom: AddCloseFrom
        let addChdir: AddChdir

        init?() {
            guard let closeFrom = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np"),
                let chdir = dlsym(nil, "posix_spawn_file_actions_addchdir_np")
            else { return nil }
            self.addCloseFrom = unsafeBitCast(closeFrom, to: AddCloseFrom.self)
            self.addChdir = unsafeBitCast(chdir, to: AddChdir.self)
        }
    }

    private static let extensions = Extensions()
}
