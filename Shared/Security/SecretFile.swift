import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Files that hold secrets (private keys, tokens) and their companions: written whole and atomically,
/// with their final mode from the start.
public enum SecretFile {
    /// Writes `text` through a temporary file created with `mode` (so a secret is never readable by
    /// others, not even briefly), synced, then renamed over `path`.
    public static func write(_ text: String, to path: String, mode: UInt32 = 0o600) throws {
        let mode = mode_t(mode)
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw SecretFileError(errno: errno, doing: "create \(temporary)") }
        var succeeded = false
        defer {
            if !succeeded { unlink(temporary) }
        }
        do {
            defer { close(descriptor) }
            // The umask may have narrowed `mode`; set it exactly.
            guard fchmod(descriptor, mode) == 0 else { throw SecretFileError(errno: errno, doing: "chmod \(temporary)") }
            let bytes = Array(text.utf8)
            var written = 0
            while written < bytes.count {
                let result = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
                if result < 0 {
                    if errno == EINTR { continue }
                    throw SecretFileError(errno: errno, doing: "write \(temporary)")
                }
                written += result
            }
            guard fsync(descriptor) == 0 else { throw SecretFileError(errno: errno, doing: "sync \(temporary)") }
        }
        guard rename(temporary, path) == 0 else { throw SecretFileError(errno: errno, doing: "rename to \(path)") }
        succeeded = true
    }
}

/// A secret file could not be written; the message names the file and the system error.
public struct SecretFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    init(errno code: Int32, doing operation: String) {
        self.description = "\(operation): \(String(cString: strerror(code)))"
    }
}
