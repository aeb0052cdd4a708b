import SkyportInterop
import SkyportProto
import SkyportRPC
import SkyportTokens
import Synchronization

/// One ``TokenVerifier`` per home data centre, whose keys are the ones that data centre's host
/// management publishes (`GetTokenKeys`): tokens verify with no database. Verifiers exist only for data
/// centres the node knows, so a token naming any other home cannot make the node grow or call out.
final class HomeTokenVerifiers: Sendable {
    private let directory: DataCentreDirectory
    private let connector: any HostManagerConnector
    private let verifiers = Mutex<[String: TokenVerifier]>([:])

    init(directory: DataCentreDirectory, connector: any HostManagerConnector) {
        self.directory = directory
        self.connector = connector
    }

    /// The verifier for tokens whose home is `datacentre`; `nil` when the node does not know it.
    func verifier(for datacentre: String) -> TokenVerifier? {
        guard self.directory.address(of: datacentre) != nil else { return nil }
        return self.verifiers.withLock { verifiers in
            if let existing = verifiers[datacentre] { return existing }
            let created = TokenVerifier(
                source: HostManagerKeys(datacentre: datacentre, directory: self.directory, connector: self.connector))
            verifiers[datacentre] = created
            return created
        }
    }
}

/// The token keys one data centre's host management publishes, fetched at its current address.
struct HostManagerKeys: TokenKeySource {
    let datacentre: String
    let directory: DataCentreDirectory
    let connector: any HostManagerConnector

    /// How long fetching the keys may take.
    static let timeout: Duration = .seconds(2)

    func publishedKeys() async throws -> [String: Ed25519.PublicKey] {
        guard let address = self.directory.address(of: self.datacentre) else {
            throw RPCError(code: .unavailable, message: "data centre \(self.datacentre) is no longer known")
        }
        let response = try await self.connector.hostManager(at: address).getTokenKeys(
            .init(), options: CallOptions(timeout: Self.timeout))
        // Keys from another data centre's host management (a wrong address) must never verify this one's tokens.
        guard response.datacentre.isEmpty || response.datacentre == self.datacentre else {
            throw RPCError(
                code: .unavailable,
                message: "host management at \(address) is \(response.datacentre.prefix(64)), not \(self.datacentre)")
        }
        var keys: [String: Ed25519.PublicKey] = [:]
        for key in response.keys {
            guard let publicKey = try? Ed25519.PublicKey(rawRepresentation: key.publicKey) else { continue }
            keys[key.keyId] = publicKey
        }
        return keys
    }
}
