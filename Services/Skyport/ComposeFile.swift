import Foundation
import Yams

/// The part of a compose file `skyport up` reads: per service, the executable (`build.args.SERVICE`),
/// the environment, the published ports and `depends_on`. Services without `build.args.SERVICE`
/// (PostgreSQL) are external: local runs do not start them.
struct ComposeFile: Sendable {
    /// One service of the file.
    struct Service: Sendable {
        /// The compose service name, e.g. `hostmgr-dc2`.
        var name: String
        /// `build.args.SERVICE`; `nil` for external services.
        var executable: String?
        /// The environment, as written.
        var environment: [String: String]
        /// Container port → published host port (`127.0.0.1:7103:7000` gives 7000 → 7103).
        var publishedPorts: [Int: Int]
        /// The services it depends on.
        var dependsOn: [String]
    }

    /// The file's path.
    var path: String
    /// Every service, in file order.
    var services: [Service]

    /// Reads and checks `path`.
    ///
    /// - Throws: ``SuiteError`` naming the service and field that is wrong.
    init(path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SuiteError("cannot read \(path): \(error.localizedDescription)")
        }
        try self.init(yaml: text, path: path)
    }

    /// Parses `yaml`.
    init(yaml: String, path: String) throws {
        self.path = path
        let document: Any?
        do {
            document = try Yams.load(yaml: yaml)
        } catch {
            throw SuiteError("\(path) is not valid YAML: \(error)")
        }
        guard let root = document as? [String: Any], let services = root["services"] as? [String: Any] else {
            throw SuiteError("\(path) has no 'services' mapping")
        }
        // Yams does not keep mapping order; file order is recovered from the text for stable output.
        let order = Self.serviceOrder(in: yaml, names: Set(services.keys))
        self.services = try order.map { name in
            guard let body = services[name] as? [String: Any] else {
                throw SuiteError("service '\(name)' is not a mapping")
            }
            return try Self.service(name: name, body: body)
        }
        let known = Set(self.services.map(\.name))
        for service in self.services {
            for dependency in service.dependsOn where !known.contains(dependency) {
                throw SuiteError("service '\(service.name)' depends on unknown service '\(dependency)'")
            }
        }
    }

    /// The services `skyport up` runs (those with an executable), dependencies first; dependencies on
    /// external services are ignored.
    func localServices() throws -> [Service] {
        let local = self.services.filter { $0.executable != nil }
        let localNames = Set(local.map(\.name))
        var ordered: [Service] = []
        var placed = Set<String>()
        var remaining = local
        while !remaining.isEmpty {
            let ready = remaining.filter { service in
                service.dependsOn.allSatisfy { !localNames.contains($0) || placed.contains($0) }
            }
            guard !ready.isEmpty else {
                throw SuiteError("depends_on has a cycle among: \(remaining.map(\.name).joined(separator: ", "))")
            }
            for service in ready { placed.insert(service.name) }
            ordered += ready
            remaining.removeAll { placed.contains($0.name) }
        }
        return ordered
    }

    private static func service(name: String, body: [String: Any]) throws -> Service {
        var executable: String?
        if let build = body["build"] as? [String: Any], let args = build["args"] {
            executable = try Self.stringMap(args, field: "build.args", service: name)["SERVICE"]
        }
        let environment =
            try body["environment"].map { try Self.stringMap($0, field: "environment", service: name) } ?? [:]
        var published: [Int: Int] = [:]
        for entry in body["ports"] as? [Any] ?? [] {
            guard let text = entry as? String else {
                throw SuiteError("service '\(name)': ports must be written as strings like \"127.0.0.1:7101:7000\"")
            }
            let parts = text.split(separator: ":")
            guard parts.count >= 2, let host = Int(parts[parts.count - 2]), let container = Int(parts[parts.count - 1])
            else {
                throw SuiteError("service '\(name)': cannot read the port mapping '\(text)'")
            }
            published[container] = host
        }
        var dependsOn: [String] = []
        switch body["depends_on"] {
        case let list as [Any]: dependsOn = list.compactMap { $0 as? String }
        case let map as [String: Any]: dependsOn = map.keys.sorted()
        default: break
        }
        return Service(
            name: name, executable: executable, environment: environment, publishedPorts: published,
            dependsOn: dependsOn)
    }

    /// A compose mapping (`KEY: value`) or list (`KEY=value`) as strings.
    private static func stringMap(_ value: Any, field: String, service: String) throws -> [String: String] {
        switch value {
        case let map as [String: Any]:
            return map.mapValues { "\($0)" }
        case let list as [Any]:
            var result: [String: String] = [:]
            for item in list {
                guard let text = item as? String, let equals = text.firstIndex(of: "=") else {
                    throw SuiteError("service '\(service)': \(field) entries must be KEY=value")
                }
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            return result
        default:
            throw SuiteError("service '\(service)': \(field) must be a mapping or a list")
        }
    }

    /// Service names in the order their `  name:` lines appear under `services:`.
    private static func serviceOrder(in yaml: String, names: Set<String>) -> [String] {
        var order: [String] = []
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("  "), !line.hasPrefix("   "), line.hasSuffix(":") else { continue }
            let name = String(line.dropFirst(2).dropLast())
            if names.contains(name), !order.contains(name) { order.append(name) }
        }
        return order + names.subtracting(order).sorted()
    }
}
