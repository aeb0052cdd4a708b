import Foundation
import SkyportService

/// The application packages installed on this host: `<packages-dir>/<app_id>/<version_id>/manifest.json`.
///
/// Reads the disk on every call, so a package copied in (or removed) shows up at the next registration
/// or launch without a restart.
struct PackageCatalog: Sendable {
    /// Manifests bigger than this are refused: a manifest is a few lines, and the host reads it whole.
    static let maximumManifestBytes = 64 * 1024

    /// The packages directory.
    let directory: String

    /// The installed versions, sorted: every `<app>/<version>` directory holding a `manifest.json`
    /// whose names are valid identifiers (a readable manifest is not required to be listed; a bad one
    /// fails at launch with its reason).
    func installed() -> [(appID: String, versionID: String)] {
        let files = FileManager.default
        var found: [(appID: String, versionID: String)] = []
        for app in ((try? files.contentsOfDirectory(atPath: self.directory)) ?? []).sorted()
        where Self.isIdentifier(app) {
            let versions = (try? files.contentsOfDirectory(atPath: "\(self.directory)/\(app)")) ?? []
            for version in versions.sorted() where Self.isIdentifier(version) {
                if files.fileExists(atPath: "\(self.directory)/\(app)/\(version)/manifest.json") {
                    found.append((app, version))
                }
            }
        }
        return found
    }

    /// Loads the manifest of `appID`/`versionID`.
    ///
    /// - Throws: ``StreamHostError/failedPrecondition(_:)`` naming the manifest's path and what is wrong
    ///   with it (missing, too big, not JSON, a missing or mistyped field, a command that is not there).
    func load(appID: String, versionID: String) throws(StreamHostError) -> InstalledPackage {
        // Identifiers are path components here: nothing may climb out of the packages directory.
        guard Self.isIdentifier(appID), Self.isIdentifier(versionID) else {
            throw .invalidArgument(
                "app_id and version_id must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '-' and '_', not starting with '.'"
            )
        }
        let packageDirectory = "\(self.directory)/\(appID)/\(versionID)"
        let path = "\(packageDirectory)/manifest.json"
        func problem(_ text: String) -> StreamHostError {
            .failedPrecondition("package \(appID)/\(versionID): \(path): \(text)")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw problem("not installed (no readable manifest)")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: Self.maximumManifestBytes + 1) ?? Data()
        } catch {
            throw problem("cannot be read (\(error.localizedDescription))")
        }
        guard data.count <= Self.maximumManifestBytes else {
            throw problem("is larger than \(Self.maximumManifestBytes / 1024) KiB")
        }
        let manifest: PackageManifest
        do {
            manifest = try JSONDecoder().decode(PackageManifest.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw problem("missing field \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw problem("field \"\(field)\" has the wrong type")
        } catch {
            throw problem("is not a JSON object")
        }
        guard !manifest.command.isEmpty else { throw problem("\"command\" is empty") }
        guard manifest.profile.sessionsPerInstance >= 1 else {
            throw problem("\"profile.sessions_per_instance\" must be at least 1")
        }
        guard let executable = Self.resolve(manifest.command, in: packageDirectory) else {
            throw problem("command \"\(manifest.command)\" is not an executable file")
        }
        return InstalledPackage(
            appID: appID, versionID: versionID, directory: packageDirectory, executable: executable,
            manifest: manifest)
    }

    /// An absolute command as is; a bare name (no `/`) on `PATH`; anything else relative to the package.
    static func resolve(_ command: String, in packageDirectory: String) -> String? {
        let files = FileManager.default
        if command.hasPrefix("/") { return files.isExecutableFile(atPath: command) ? command : nil }
        if command.contains("/") {
            let path = "\(packageDirectory)/\(command)"
            return files.isExecutableFile(atPath: path) ? path : nil
        }
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let path = "\(directory)/\(command)"
            if files.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// 1 to 64 characters of `A-Z a-z 0-9 . - _`, not starting with a dot (so never `.` or `..`): safe as a
    /// path component, and wide enough for version ids like `1.2.0`.
    static func isIdentifier(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 64, name.utf8.first != UInt8(ascii: ".") else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }
}

/// One installed package version, its manifest checked.
struct InstalledPackage: Sendable {
    var appID: String
    var versionID: String
    /// The package directory: the application's working directory.
    var directory: String
    /// The resolved command.
    var executable: String
    var manifest: PackageManifest
}

/// `manifest.json` of a package version.
struct PackageManifest: Sendable, Decodable {
    /// What one instance needs, unless host management's app spec says otherwise.
    struct Profile: Sendable, Decodable, Hashable {
        var cpuUnits: UInt32 = 1
        var memoryMiB: UInt64 = 256
        var minGPUScore: UInt32 = 0
        var sessionsPerInstance: UInt32 = 1

        enum CodingKeys: String, CodingKey {
            case cpuUnits = "cpu_units"
            case memoryMiB = "memory_mib"
            case minGPUScore = "min_gpu_score"
            case sessionsPerInstance = "sessions_per_instance"
        }

        init() {}

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.cpuUnits = try container.decodeIfPresent(UInt32.self, forKey: .cpuUnits) ?? self.cpuUnits
            self.memoryMiB = try container.decodeIfPresent(UInt64.self, forKey: .memoryMiB) ?? self.memoryMiB
            self.minGPUScore = try container.decodeIfPresent(UInt32.self, forKey: .minGPUScore) ?? self.minGPUScore
            self.sessionsPerInstance =
                try container.decodeIfPresent(UInt32.self, forKey: .sessionsPerInstance) ?? self.sessionsPerInstance
        }
    }

    var command: String
    var arguments: [String]
    var environment: [String: String]
    var profile: Profile

    enum CodingKeys: String, CodingKey {
        case command, arguments, environment, profile
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.command = try container.decode(String.self, forKey: .command)
        self.arguments = try container.decodeIfPresent([String].self, forKey: .arguments) ?? []
        self.environment = try container.decodeIfPresent([String: String].self, forKey: .environment) ?? [:]
        self.profile = try container.decodeIfPresent(Profile.self, forKey: .profile) ?? Profile()
    }
}
