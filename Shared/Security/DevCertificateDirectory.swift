import Foundation
internal import SkyportInterop

/// A directory of development certificates: one CA and one mutual-TLS certificate per service, as
/// `skyport dev-ca` writes them.
///
/// Layout: `ca.pem` and `ca-key.pem` (mode 0600), then `<service>.pem` and `<service>-key.pem` (0600)
/// per service. Each service certificate has CN = the service name, the URI SAN
/// `spiffe://<trustDomain>/<service>`, and DNS or IP SANs for the given hosts. Generation is idempotent:
/// an existing CA is reused, existing service certificates are kept unless `force` is set, and when the CA
/// is new every service certificate is reissued (old ones would not chain to it).
public struct DevCertificateDirectory: Sendable {
    /// Every Skyport service plus the `skyport` tool itself, the default set of certificates.
    public static let defaultServices = [
        "entitlement", "redemption", "hostmgr", "forecast", "distribution", "billing", "streamhost", "skyport",
    ]
    /// The hosts local runs use: `localhost` and `127.0.0.1`.
    public static let defaultHosts = ["localhost", "127.0.0.1"]

    /// What happened to one file pair.
    public enum Action: String, Sendable, Hashable {
        /// The pair did not exist and was written.
        case created
        /// The pair existed and was left alone.
        case kept
        /// The pair existed and was overwritten (`force`, a new CA, or a missing half).
        case replaced
    }

    /// One certificate and key pair the directory holds after `generate`.
    public struct Entry: Sendable, Hashable {
        /// `ca` for the authority, otherwise the service name.
        public var name: String
        /// The certificate's path.
        public var certificatePath: String
        /// The private key's path.
        public var keyPath: String
        /// What `generate` did.
        public var action: Action
    }

    /// The directory's path.
    public let directory: String
    /// The SPIFFE trust domain of the URI SANs, `skyport.local` by default.
    public let trustDomain: String

    /// Describes a directory; nothing is read or written until `generate`.
    public init(directory: String, trustDomain: String = "skyport.local") {
        self.directory = directory
        self.trustDomain = trustDomain
    }

    /// `<directory>/ca.pem`.
    public var caCertificatePath: String { self.path("ca.pem") }
    /// `<directory>/ca-key.pem`.
    public var caKeyPath: String { self.path("ca-key.pem") }
    /// `<directory>/<service>.pem`.
    public func certificatePath(for service: String) -> String { self.path("\(service).pem") }
    /// `<directory>/<service>-key.pem`.
    public func keyPath(for service: String) -> String { self.path("\(service)-key.pem") }
    /// The URI SAN identifying `service`: `spiffe://<trustDomain>/<service>`.
    public func spiffeID(for service: String) -> String { "spiffe://\(self.trustDomain)/\(service)" }

    /// Creates the directory (mode 0700) if needed, then the CA and each service's certificate.
    ///
    /// - Parameters:
    ///   - services: service names, lower-case letters, digits and `-` (they become file names).
    ///   - hosts: host names and IP addresses put in every service certificate as DNS or IP SANs.
    ///   - force: reissue service certificates that already exist (the CA is always reused).
    /// - Returns: one entry for the CA, then one per service, in order.
    /// - Throws: `DevCertificateDirectoryError` for bad names or a half-present CA; `TLSError` from OpenSSL.
    public func generate(
        services: [String] = Self.defaultServices, hosts: [String] = Self.defaultHosts, force: Bool = false
    ) throws -> [Entry] {
        for service in services where !Self.isValidServiceName(service) {
            throw DevCertificateDirectoryError(
                "invalid service name '\(service)': use lower-case letters, digits and '-', not 'ca'")
        }
        let ipAddresses = hosts.filter(IPAddress.isAddress)
        let dnsNames = hosts.filter { !IPAddress.isAddress($0) }
        try FileManager.default.createDirectory(
            atPath: self.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])

        let (ca, caAction) = try self.loadOrCreateCA()
        var entries = [
            Entry(name: "ca", certificatePath: self.caCertificatePath, keyPath: self.caKeyPath, action: caAction)
        ]
        for service in services {
            let certificatePath = self.certificatePath(for: service)
            let keyPath = self.keyPath(for: service)
            let certificateExists = Self.exists(certificatePath)
            let keyExists = Self.exists(keyPath)
            let action: Action
            if certificateExists && keyExists && !force && caAction == .kept {
                action = .kept
            } else {
                let issued = try ca.issue(
                    commonName: service, dnsNames: dnsNames, ipAddresses: ipAddresses,
                    uris: [self.spiffeID(for: service)])
                try SecretFile.write(issued.privateKeyPEM, to: keyPath, mode: 0o600)
                try SecretFile.write(issued.certificatePEM, to: certificatePath, mode: 0o644)
                action = certificateExists || keyExists ? .replaced : .created
            }
            entries.append(Entry(name: service, certificatePath: certificatePath, keyPath: keyPath, action: action))
        }
        return entries
    }

    private func loadOrCreateCA() throws -> (CertificateAuthority, Action) {
        let certificateExists = Self.exists(self.caCertificatePath)
        let keyExists = Self.exists(self.caKeyPath)
        switch (certificateExists, keyExists) {
        case (true, true):
            let ca = try CertificateAuthority(
                certificatePEM: try String(contentsOfFile: self.caCertificatePath, encoding: .utf8),
                privateKeyPEM: try String(contentsOfFile: self.caKeyPath, encoding: .utf8))
            return (ca, .kept)
        case (false, false):
            let ca = try CertificateAuthority.create(commonName: "Skyport Development CA")
            // Key first: a crash in between leaves a key without a certificate, which is refused below,
            // never a certificate whose key is lost.
            try SecretFile.write(ca.privateKeyPEM, to: self.caKeyPath, mode: 0o600)
            try SecretFile.write(ca.certificatePEM, to: self.caCertificatePath, mode: 0o644)
            return (ca, .created)
        default:
            // Never overwrite half a CA silently: certificates issued by it may be in use elsewhere.
            throw DevCertificateDirectoryError(
                "\(certificateExists ? self.caCertificatePath : self.caKeyPath) exists without its "
                    + "\(certificateExists ? "key" : "certificate"); remove it to create a new CA")
        }
    }

    private func path(_ name: String) -> String {
        (self.directory as NSString).appendingPathComponent(name)
    }

    static func isValidServiceName(_ name: String) -> Bool {
        guard !name.isEmpty, name != "ca", name.count <= 64, !name.hasPrefix("-") else { return false }
        return name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }

    private static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }
}

/// `DevCertificateDirectory` could not do its work: a bad service name or a half-present CA. (File
/// errors are `SecretFileError`.)
public struct DevCertificateDirectoryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, naming the file or argument.
    public var message: String

    init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { self.message }
}
