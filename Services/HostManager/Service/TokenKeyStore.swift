public import SkyportInterop
public import SkyportStorage
import SkyportService
public import SkyportTokens
import Synchronization

/// Host management's token signing keys, kept in its store (so every replica signs with the same key)
/// and cached in memory. The newest unretired key signs; every unretired key is published.
///
/// The private keys are stored as they are: the store must be protected like a secret (a key-encryption
/// key is the next step).
public final class TokenKeyStore: Sendable {
    /// A published key.
    public struct PublishedKey: Sendable, Hashable {
        /// Its id.
        public var keyID: String
        /// The public key.
        public var publicKey: Ed25519.PublicKey
        /// Unix milliseconds.
        public var createdAtMilliseconds: Int64
    }

    let database: Database
    let datacentre: String
    private let current = Mutex<TokenSigningKey?>(nil)

    /// A store over `database` for the keys of `datacentre` (which prefixes their ids).
    public init(database: Database, datacentre: String) {
        self.database = database
        self.datacentre = datacentre
    }

    /// Loads the newest unretired key, creating one when there is none; called at start.
    @discardableResult
    public func ensureCurrentKey(now: Int64) async throws -> TokenSigningKey {
        let key = try await self.database.write { tx in
            if let row = try await tx.queryFirst(
                """
                SELECT key_id, private_key FROM token_keys WHERE retired_at_ms IS NULL
                ORDER BY created_at_ms DESC, key_id DESC LIMIT 1
                """)
            {
                return TokenSigningKey(
                    keyID: try row.decode(String.self, "key_id"),
                    privateKey: try Ed25519.PrivateKey(rawRepresentation: try row.decode([UInt8].self, "private_key")))
            }
            let created = try TokenSigningKey.generate(
                keyID: ServiceSupport.newIdentifier(prefix: self.datacentre).replacingOccurrences(of: "_", with: "-"))
            try await tx.execute(
                "INSERT INTO token_keys (key_id, private_key, public_key, created_at_ms) VALUES (?, ?, ?, ?)",
                [created.keyID, created.privateKey.rawRepresentation, created.publicKey.rawRepresentation, now])
            return created
        }
        self.current.withLock { $0 = key }
        return key
    }

    /// The key that signs new tokens (loaded by ``ensureCurrentKey(now:)``).
    public func currentKey(now: Int64) async throws -> TokenSigningKey {
        if let key = self.current.withLock({ $0 }) { return key }
        return try await self.ensureCurrentKey(now: now)
    }

    /// Every unretired key, oldest first.
    public func publishedKeys() async throws -> [PublishedKey] {
        try await self.database.query(
            "SELECT key_id, public_key, created_at_ms FROM token_keys WHERE retired_at_ms IS NULL ORDER BY created_at_ms, key_id"
        ).map { row in
            PublishedKey(
                keyID: try row.decode(String.self, "key_id"),
                publicKey: try Ed25519.PublicKey(rawRepresentation: try row.decode([UInt8].self, "public_key")),
                createdAtMilliseconds: try row.decode(Int64.self, "created_at_ms"))
        }
    }
}
