import Foundation
import SkyportInterop
import SkyportRPC
import SkyportSecurity

#if canImport(Glibc)
    import Glibc
#endif

/// How `skyport up` turns the compose file into local processes, and how it starts and stops them.
///
/// Each service with `build.args.SERVICE` becomes one process of that executable with the service's
/// environment, rewritten for one machine:
/// - `0.0.0.0:<port>` becomes `127.0.0.1:<published port>`, and `<service>:<port>` becomes
///   `127.0.0.1:<that service's published port>`, also inside comma-separated lists and after `name=`
///   (`dc1=hostmgr-dc1:7000,dc2=hostmgr-dc2:7000`);
/// - `/run/secrets/skyport/<file>` becomes `<state>/tls/<file>` (the development CA, created on first
///   use), and any other `/run/secrets/<name>` becomes `<state>/secrets/<name>` (a random token,
///   created on first use);
/// - `/var/lib/skyport` becomes `<state>/data/<service>`;
/// - `…_DATABASE_URL` and `…_DATABASE_PASSWORD_FILE` are dropped, so each service uses its embedded
///   SQLite store in its data directory.
enum LocalSuite {
    /// One process to run.
    struct Instance: Sendable {
        var name: String
        var executable: String
        var environment: [String: String]
        var address: String
        var metricsAddress: String
        var dependsOn: [String]
    }

    /// `SKYPORT_<EXECUTABLE>_`: the prefix of an executable's settings in the environment.
    static func environmentPrefix(of executable: String) -> String {
        "SKYPORT_" + executable.uppercased().replacingOccurrences(of: "-", with: "_") + "_"
    }

    /// `<compose file's directory>/config`: what containers mount at `/etc/skyport`.
    static func configDirectory(of compose: ComposeFile) -> String {
        Self.canonicalPath(URL(fileURLWithPath: compose.path).deletingLastPathComponent().path + "/config")
    }

    /// `path` made absolute, `.`/`..` removed and symbolic links resolved, as `/proc/<pid>/exe` shows it.
    static func canonicalPath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// The plan for every local service of `compose`, dependencies first.
    ///
    /// `portOffset` is added to every published port, so a second suite (a test) can run beside one on
    /// the standard ports.
    static func plan(compose: ComposeFile, stateDirectory: String, portOffset: Int = 0) throws -> [Instance] {
        let byName = Dictionary(uniqueKeysWithValues: compose.services.map { ($0.name, $0) })
        return try compose.localServices().map { service in
            let executable = service.executable!
            var environment: [String: String] = [:]
            for (key, value) in service.environment {
                if key.hasSuffix("_DATABASE_URL") || key.hasSuffix("_DATABASE_PASSWORD_FILE") { continue }
                environment[key] = try Self.rewrite(
                    value, key: key, service: service, services: byName, stateDirectory: stateDirectory,
                    configDirectory: Self.configDirectory(of: compose), portOffset: portOffset)
            }
            let prefix = Self.environmentPrefix(of: executable)
            guard let address = environment[prefix + "LISTEN"], let metrics = environment[prefix + "METRICS_LISTEN"]
            else {
                throw SuiteError("service '\(service.name)' sets no \(prefix)LISTEN or \(prefix)METRICS_LISTEN")
            }
            return Instance(
                name: service.name, executable: executable, environment: environment, address: address,
                metricsAddress: metrics, dependsOn: service.dependsOn.filter { byName[$0]?.executable != nil })
        }
    }

    static func rewrite(
        _ value: String, key: String, service: ComposeFile.Service, services: [String: ComposeFile.Service],
        stateDirectory: String, configDirectory: String, portOffset: Int
    ) throws -> String {
        if value.hasPrefix("/etc/skyport/") {
            // Read-only configuration shipped beside the compose file (mounted from ./config in containers).
            return configDirectory + "/" + value.dropFirst("/etc/skyport/".count)
        }
        if value.hasPrefix("/run/secrets/skyport/") {
            return stateDirectory + "/tls/" + value.dropFirst("/run/secrets/skyport/".count)
        }
        if value.hasPrefix("/run/secrets/") {
            return stateDirectory + "/secrets/" + value.dropFirst("/run/secrets/".count)
        }
        if value == "/var/lib/skyport" || value.hasPrefix("/var/lib/skyport/") {
            return stateDirectory + "/data/" + service.name + value.dropFirst("/var/lib/skyport".count)
        }
        if value.contains(",") || value.contains("=") {
            // A list of addresses, some named: rewrite each address.
            return try value.split(separator: ",", omittingEmptySubsequences: false).map { item in
                let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let address = try Self.rewriteAddress(
                    String(parts.last!), key: key, service: service, services: services, portOffset: portOffset)
                return parts.count == 2 ? "\(parts[0])=\(address)" : address
            }.joined(separator: ",")
        }
        return try Self.rewriteAddress(value, key: key, service: service, services: services, portOffset: portOffset)
    }

    /// `0.0.0.0:<port>` or `<service>:<port>` as `127.0.0.1:<published port>`; anything else unchanged.
    static func rewriteAddress(
        _ value: String, key: String, service: ComposeFile.Service, services: [String: ComposeFile.Service],
        portOffset: Int
    ) throws -> String {
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]) else {
            return value
        }
        let host = String(value[..<colon])
        let target: ComposeFile.Service
        if host == "0.0.0.0" {
            target = service
        } else if let other = services[host] {
            target = other
        } else {
            return value
        }
        guard let published = target.publishedPorts[port] else {
            throw SuiteError(
                "service '\(service.name)': \(key) uses \(value), "
                    + "but '\(target.name)' publishes no host port for \(port)"
            )
        }
        guard (1...65535).contains(published + portOffset) else {
            throw SuiteError("--port-offset \(portOffset) moves port \(published) out of range")
        }
        return "127.0.0.1:\(published + portOffset)"
    }

    /// Creates `<state>/tls` (CA and one certificate per identity, `skyport` included) and the random
    /// secrets the plan refers to, when missing.
    static func prepareSecrets(plan: [Instance], stateDirectory: String) throws {
        var identities = Set(DevCertificateDirectory.defaultServices)
        for instance in plan { identities.insert(instance.executable) }
        _ = try DevCertificateDirectory(directory: stateDirectory + "/tls").generate(services: identities.sorted())
        let secrets = stateDirectory + "/secrets/"
        for instance in plan {
            for value in instance.environment.values where value.hasPrefix(secrets) {
                guard !FileManager.default.fileExists(atPath: value) else { continue }
                try FileManager.default.createDirectory(
                    atPath: secrets, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                try SecretFile.write(Hex.encode(try SecureRandom.bytes(count: 32)), to: value)
            }
        }
    }

    /// Starts `binary` with `environment` in its own process group (so a Ctrl-C at the terminal that ran
    /// `skyport up` does not reach it), standard input from /dev/null and standard output and error
    /// appended to `logFile`.
    static func spawn(binary: String, environment: [String: String], logFile: String) throws -> pid_t {
        do {
            return try ProcessSpawner.spawn(executable: binary, environment: environment, logFile: logFile)
        } catch {
            throw SuiteError(error.description)
        }
    }

    /// Whether `pid` is alive and runs `binary` (so a recycled pid is never mistaken for ours).
    static func isRunning(pid: Int32, binary: String) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe") else {
            return false
        }
        // A binary replaced by a rebuild shows as "<path> (deleted)".
        return target == binary || target == binary + " (deleted)"
    }

    /// Reaps `pid` if it is our child and has exited (so it does not linger as a zombie).
    static func reapIfChild(_ pid: Int32) {
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
    }

    /// The last `lines` lines of `path`, for error messages.
    static func tail(_ path: String, lines: Int = 15) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// The directory holding this `skyport` executable, where the services are built too.
    static func defaultBinaryDirectory() -> String {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return Self.canonicalPath(URL(fileURLWithPath: executable).deletingLastPathComponent().path)
    }
}
