import Foundation

/// What `skyport up` leaves in its state directory (`<state>/suite.json`) so that `skyport status`,
/// `skyport call` and `skyport down` find the running suite.
///
/// Layout of the state directory: `suite.json`, `tls/` (the development CA and one certificate per
/// identity), `data/<instance>/` (each instance's SQLite store) and `logs/<instance>.log`.
struct SuiteState: Codable, Sendable {
    /// One running service instance.
    struct Instance: Codable, Sendable {
        /// The compose service name, e.g. `hostmgr-dc2`.
        var name: String
        /// The executable, e.g. `hostmgr`.
        var executable: String
        /// The executable's absolute path (checked against `/proc/<pid>/exe` before signalling).
        var binary: String
        /// The gRPC address, `127.0.0.1:<port>`.
        var address: String
        /// The Prometheus endpoint, `127.0.0.1:<port>`.
        var metricsAddress: String
        /// The process id.
        var pid: Int32
        /// Where its standard output and error go.
        var logFile: String
        /// The instances it depends on (`depends_on`); `skyport down` stops dependents first.
        var dependsOn: [String]
        /// The environment it was started with (paths and addresses only: secrets stay in files), so a
        /// later `skyport up` can tell whether it runs the configuration asked for.
        var environment: [String: String]
    }

    /// The directory `tls/`: `ca.pem`, and `<identity>.pem` / `<identity>-key.pem` per identity,
    /// including `skyport` (the identity of this tool).
    var tlsDirectory: String
    /// The compose file the suite was started from.
    var composeFile: String
    /// The instances in start order.
    var instances: [Instance]

    /// The state directory: `--state-dir`, else `$SKYPORT_STATE_DIR`, else `.skyport` in the current directory.
    static func directory(_ option: String?) -> String {
        if let option { return option }
        if let environment = ProcessInfo.processInfo.environment["SKYPORT_STATE_DIR"], !environment.isEmpty {
            return environment
        }
        return FileManager.default.currentDirectoryPath + "/.skyport"
    }

    /// `<directory>/suite.json`.
    static func file(in directory: String) -> String { directory + "/suite.json" }

    /// Reads the state of a suite started in `directory`; `nil` when none was.
    static func load(from directory: String) throws -> SuiteState? {
        let path = Self.file(in: directory)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try JSONDecoder().decode(SuiteState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Writes the state atomically.
    func save(to directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: Self.file(in: directory)), options: .atomic)
    }

    /// The instance named `name` (compose service name or, when unique, executable name).
    func instance(named name: String) -> Instance? {
        if let exact = self.instances.first(where: { $0.name == name }) { return exact }
        let byExecutable = self.instances.filter { $0.executable == name }
        return byExecutable.count == 1 ? byExecutable[0] : nil
    }
}
