import EntitlementService
import SkyportProto
import SkyportRPC
import SkyportSecurity
import SkyportStorage
import Testing

@Suite("Entitlement")
struct EntitlementServiceTests {
    typealias Client = Skyport_Entitlement_V1_EntitlementClient

    /// An entitlement service wired as `Entitlement.specification` wires it: identity authorization,
    /// then `APIKeyAuthenticator` over the service's own store and hasher.
    struct Fixture {
        let database: Database
        let server: InProcessServer
        let hasher: APIKeyHasher
        /// The host management of `dc1` behind the service.
        let hostmgrs: InProcessHostManagers

        /// The operator, over mutual TLS.
        var operatorClient: Client { Client(self.server.client(as: InProcessServer.operatorIdentity)) }
        /// A developer's program: no client certificate.
        var publicClient: Client { Client(self.server.client(as: nil)) }
    }

    static func withEntitlement(
        _ backend: ServiceBackend, pepper: [UInt8]? = nil, _ body: (Fixture) async throws -> Void
    ) async throws {
        try await InProcessHostManagers.withDC1 { hostmgrs in
            try await backend.withDatabase(migrations: EntitlementStore.migrations) { db in
                let hasher = APIKeyHasher(pepper: pepper)
                let store = EntitlementStore(database: db, hasher: hasher)
                let service = EntitlementService(
                    store: store, catalog: CatalogStore(database: db), sessions: hostmgrs,
                    redemptionEndpoints: ["127.0.0.1:7102", "127.0.0.1:7202"])
                let server = InProcessServer(
                    services: [service], policy: Entitlement.accessPolicy,
                    interceptors: [APIKeyAuthenticator(policy: Entitlement.accessPolicy, store: store, hasher: hasher)])
                try await body(Fixture(database: db, server: server, hasher: hasher, hostmgrs: hostmgrs))
            }
        }
    }

    static func create(
        _ client: Client, name: String = "Ada", email: String = "ada@example.com"
    ) async throws -> Skyport_Entitlement_V1_CreateDeveloperResponse {
        var request = Skyport_Entitlement_V1_CreateDeveloperRequest()
        request.displayName = name
        request.email = email
        return try await client.createDeveloper(request)
    }

    static func bearer(_ key: String) -> Metadata {
        ["authorization": .string("Bearer \(key)")]
    }

    @Test("CreateDeveloper returns an sk_ key once and stores only its hash", arguments: ServiceBackend.all)
    func createStoresOnlyTheHash(backend: ServiceBackend) async throws {
        try await Self.withEntitlement(backend) { fixture in
            let created = try await Self.create(fixture.operatorClient)
            let developer = try #require(created.developer)
            #expect(developer.developerId.hasPrefix("dev_"))
            #expect(developer.displayName == "Ada")
            #expect(developer.email == "ada@example.com")
            #expect(developer.createdAtUnixMs > 0)

            #expect(created.apiKey.hasPrefix("sk_"))
            let key = try #require(APIKey(parsing: created.apiKey))
            #expect(developer.apiKeyIds == [key.keyID])

            let rows = try await fixture.database.query("SELECT * FROM api_keys")
            let row = try #require(rows.first)
            #expect(rows.count == 1)
            #expect(try row.decode(String.self, "key_id") == key.keyID)
            #expect(try row.decode(String.self, "developer_id") == developer.developerId)
            #expect(try row.decode([UInt8].self, "key_hash") == fixture.hasher.hash(key))
            #expect(try row.decode([UInt8].self, "key_hash").count == 32)
            // The key text, and its secret part, appear in no column, as text or as bytes.
            let secret = String(created.apiKey.dropFirst("sk_".count + key.keyID.count + 1))
            #expect(secret.count == 43)
            for value in rows.flatMap(\.values) {
                switch value {
                case .text(let text):
                    #expect(!text.contains(secret))
                case .bytes(let bytes):
                    #expect(!Self.contains(bytes, Array(secret.utf8)))
                default:
                    break
                }
            }
        }
    }

    @Test(
        "with a pepper the stored hash is the peppered one, and keys still authenticate", arguments: ServiceBackend.all)
    func pepperedHash(backend: ServiceBackend) async throws {
        let pepper = Array("a pepper of at least sixteen bytes".utf8)
        try await Self.withEntitlement(backend, pepper: pepper) { fixture in
            let created = try await Self.create(fixture.operatorClient)
            let key = try #require(APIKey(parsing: created.apiKey))
            let stored = try await fixture.database.query("SELECT key_hash FROM api_keys")
            let hash = try #require(try stored.first?.decode([UInt8].self, "key_hash"))
            #expect(hash == APIKeyHasher(pepper: pepper).hash(key))
            #expect(hash != APIKeyHasher().hash(key))
            let me = try await fixture.publicClient.whoAmI(.init(), metadata: Self.bearer(created.apiKey))
            #expect(me.developerId == created.developer?.developerId)
        }
    }

    @Test("GetDeveloper round-trips; an unknown id is NOT_FOUND", arguments: ServiceBackend.all)
    func getDeveloper(backend: ServiceBackend) async throws {
        try await Self.withEntitlement(backend) { fixture in
            let ada = try #require(try await Self.create(fixture.operatorClient).developer)
            let bob = try #require(
                try await Self.create(fixture.operatorClient, name: "Bob", email: "bob@example.org").developer)
            #expect(ada.developerId != bob.developerId)

            var request = Skyport_Entitlement_V1_GetDeveloperRequest()
            request.developerId = ada.developerId
            #expect(try await fixture.operatorClient.getDeveloper(request) == ada)
            request.developerId = bob.developerId
            #expect(try await fixture.operatorClient.getDeveloper(request) == bob)

            request.developerId = "dev_000000000000000000000000"
            await expectStatus(.notFound) { try await fixture.operatorClient.getDeveloper(request) }
            request.developerId = ""
            await expectStatus(.invalidArgument) { try await fixture.operatorClient.getDeveloper(request) }
        }
    }

    @Test("bad names and e-mail addresses are INVALID_ARGUMENT and create nothing", arguments: ServiceBackend.all)
    func invalidDevelopers(backend: ServiceBackend) async throws {
        try await Self.withEntitlement(backend) { fixture in
            let client = fixture.operatorClient
            await expectStatus(.invalidArgument) { try await Self.create(client, email: "ada.example.com") }
            await expectStatus(.invalidArgument) { try await Self.create(client, email: "ada @example.com") }
            await expectStatus(.invalidArgument) { try await Self.create(client, email: "") }
            await expectStatus(.invalidArgument) { try await Self.create(client, name: "") }
            await expectStatus(.invalidArgument) { try await Self.create(client, name: "Ada\nLovelace") }
            await expectStatus(.invalidArgument) {
                try await Self.create(client, name: String(repeating: "a", count: 201))
            }
            let developers = try await fixture.database.query("SELECT developer_id FROM developers")
            let keys = try await fixture.database.query("SELECT key_id FROM api_keys")
            #expect(developers.isEmpty)
            #expect(keys.isEmpty)
        }
    }

    @Test("WhoAmI returns the developer of a valid API key", arguments: ServiceBackend.all)
    func whoAmI(backend: ServiceBackend) async throws {
        try await Self.withEntitlement(backend) { fixture in
            let ada = try await Self.create(fixture.operatorClient)
            let bob = try await Self.create(fixture.operatorClient, name: "Bob", email: "bob@example.org")
            let client = fixture.publicClient

            let me = try await client.whoAmI(.init(), metadata: Self.bearer(ada.apiKey))
            #expect(me == ada.developer)
            let other = try await client.whoAmI(.init(), metadata: ["x-api-key": .string(bob.apiKey)])
            #expect(other == bob.developer)
            // The scheme is case-insensitive.
            let lower = try await client.whoAmI(.init(), metadata: ["authorization": .string("bearer \(ada.apiKey)")])
            #expect(lower.developerId == ada.developer?.developerId)
        }
    }

    @Test("WhoAmI with a missing, malformed, unknown or wrong key is UNAUTHENTICATED", arguments: ServiceBackend.all)
    func whoAmIRejectsBadKeys(backend: ServiceBackend) async throws {
        try await Self.withEntitlement(backend) { fixture in
            let ada = try await Self.create(fixture.operatorClient)
            let client = fixture.publicClient
            // The same key id with another secret of the right shape.
            var wrong = Array(ada.apiKey)
            wrong[wrong.count - 1] = wrong[wrong.count - 1] == "A" ? "B" : "A"
            let wrongKey = String(wrong)
            #expect(APIKey(parsing: wrongKey) != nil)
            let unknownKey = try APIKey.generate().reveal()

            let attempts: [Metadata] = [
                [:],
                ["authorization": "Bearer"],
                ["authorization": .string("Basic \(ada.apiKey)")],
                Self.bearer("sk_not_a_key"),
                Self.bearer(wrongKey),
                Self.bearer(unknownKey),
                ["x-api-key": .string(wrongKey)],
            ]
            for metadata in attempts {
                await expectStatus(.unauthenticated) { try await client.whoAmI(.init(), metadata: metadata) }
            }
            // A client certificate is no substitute for an API key on a developer method.
            let operatorClient = fixture.operatorClient
            await expectStatus(.unauthenticated) { try await operatorClient.whoAmI(.init()) }
        }
    }

    @Test(
        "the operator adds and revokes API keys; a revoked key is UNAUTHENTICATED at once, the others still work",
        arguments: ServiceBackend.all)
    func addAndRevokeKeys(backend: ServiceBackend) async throws {
        try await Self.withEntitlement(backend) { fixture in
            let ada = try await Self.create(fixture.operatorClient)
            let bob = try await Self.create(fixture.operatorClient, name: "Bob", email: "bob@example.org")
            let adaID = try #require(ada.developer?.developerId)
            let first = try #require(APIKey(parsing: ada.apiKey))
            let client = fixture.publicClient

            var add = Skyport_Entitlement_V1_CreateAPIKeyRequest()
            add.developerId = adaID
            let added = try await fixture.operatorClient.createAPIKey(add)
            let second = try #require(APIKey(parsing: added.apiKey))
            #expect(second.keyID != first.keyID)
            #expect(added.developer?.apiKeyIds.sorted() == [first.keyID, second.keyID].sorted())
            #expect(try await client.whoAmI(.init(), metadata: Self.bearer(added.apiKey)).developerId == adaID)
            #expect(try await client.whoAmI(.init(), metadata: Self.bearer(ada.apiKey)).developerId == adaID)
            // Only the hash of the new key is stored.
            let stored = try await fixture.database.query(
                "SELECT key_hash FROM api_keys WHERE key_id = ?", [second.keyID])
            #expect(try stored.first?.decode([UInt8].self, "key_hash") == fixture.hasher.hash(second))

            var revoke = Skyport_Entitlement_V1_RevokeAPIKeyRequest()
            revoke.developerId = adaID
            revoke.apiKeyId = first.keyID
            let after = try await fixture.operatorClient.revokeAPIKey(revoke)
            #expect(after.apiKeyIds == [second.keyID])
            await expectStatus(.unauthenticated) {
                try await client.whoAmI(.init(), metadata: Self.bearer(ada.apiKey))
            }
            #expect(try await client.whoAmI(.init(), metadata: Self.bearer(added.apiKey)).developerId == adaID)
            // Revoking it again, or through another developer, or an unknown developer: NOT_FOUND.
            await expectStatus(.notFound) { try await fixture.operatorClient.revokeAPIKey(revoke) }
            var other = revoke
            other.developerId = try #require(bob.developer?.developerId)
            other.apiKeyId = second.keyID
            await expectStatus(.notFound) { try await fixture.operatorClient.revokeAPIKey(other) }
            #expect(try await client.whoAmI(.init(), metadata: Self.bearer(added.apiKey)).developerId == adaID)
            add.developerId = "dev_000000000000000000000000"
            await expectStatus(.notFound) { try await fixture.operatorClient.createAPIKey(add) }
            add.developerId = ""
            await expectStatus(.invalidArgument) { try await fixture.operatorClient.createAPIKey(add) }
            // A malformed key id (an empty one, or a whole key pasted by mistake) is refused and not echoed.
            for malformed in ["", added.apiKey, second.keyID.uppercased()] {
                revoke.apiKeyId = malformed
                do {
                    _ = try await fixture.operatorClient.revokeAPIKey(revoke)
                    Issue.record("a malformed key id was accepted")
                } catch let error as RPCError {
                    #expect(error.code == .invalidArgument)
                    #expect(malformed.isEmpty || !error.message.contains(malformed))
                }
            }

            // Operator methods: a developer's key (no client certificate) cannot add or revoke keys.
            revoke.apiKeyId = second.keyID
            add.developerId = adaID
            let keyed = Self.bearer(added.apiKey)
            await expectStatus(.unauthenticated) { try await client.createAPIKey(add, metadata: keyed) }
            await expectStatus(.unauthenticated) { try await client.revokeAPIKey(revoke, metadata: keyed) }
            let keys = try await fixture.database.query("SELECT key_id FROM api_keys WHERE revoked_at_ms IS NULL")
            let bobKey = try #require(bob.developer?.apiKeyIds.first)
            #expect(Set(try keys.map { try $0.decode(String.self, "key_id") }) == [second.keyID, bobKey])
        }
    }

    /// Whether `needle` occurs in `haystack` as a contiguous run.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains {
            haystack[$0..<($0 + needle.count)].elementsEqual(needle)
        }
    }
}
