import SkyportInterop
import SkyportRPC
import SkyportSecurity
import SkyportTestSupport
import Testing

@Suite struct APIKeyTests {
    @Test func generatedKeysHaveTheDocumentedShapeAndRoundTrip() throws {
        let key = try APIKey.generate()
        let text = key.reveal()
        #expect(text.hasPrefix("sk_\(key.keyID)_"))
        #expect(key.keyID.count == 16)
        #expect(text.count == 3 + 16 + 1 + 43)
        #expect(APIKey(parsing: text) == key)
        #expect(try APIKey.generate() != key)
    }

    @Test func malformedKeysDoNotParse() throws {
        let text = try APIKey.generate().reveal()
        #expect(APIKey(parsing: "pk" + text.dropFirst(2)) == nil)
        #expect(APIKey(parsing: text.dropLast()) == nil)
        #expect(APIKey(parsing: text + "A") == nil)
        #expect(APIKey(parsing: String(text.dropLast()) + "=") == nil)
        #expect(APIKey(parsing: "") == nil)
    }

    @Test func descriptionsNeverContainTheSecret() throws {
        let key = try APIKey.generate()
        let secret = String(key.reveal().suffix(43))
        var dumped = ""
        dump(key, to: &dumped)
        for text in ["\(key)", String(describing: key), String(reflecting: key), dumped, "\([key])"] {
            #expect(!text.contains(secret))
            #expect(text.contains(key.keyID))
        }
        #expect("\(key)" == "sk_\(key.keyID)_<redacted>")
    }

    @Test func hashesAreSHA256OrPepperedHMACAndVerifyInConstantTime() throws {
        let key = try APIKey.generate()
        let plain = APIKeyHasher()
        #expect(plain.hash(key) == Digest.sha256(Array(key.reveal().utf8)))
        let peppered = APIKeyHasher(pepper: Array("deployment-pepper".utf8))
        #expect(peppered.hash(key).count == 32)
        #expect(peppered.hash(key) != plain.hash(key))
        #expect(!"\(peppered)".contains("deployment-pepper"))

        let record = peppered.record(for: key, principal: "dev-42")
        #expect(record.hash != Array(key.reveal().utf8))
        #expect(peppered.verify(key, against: record))
        #expect(!plain.verify(key, against: record))
        #expect(!peppered.verify(try APIKey.generate(), against: record))
    }

    @Test func digestAndConstantTimeHelpersMatchKnownAnswers() throws {
        // FIPS 180-2 "abc" and RFC 4231 test case 2.
        #expect(hex(Digest.sha256(Array("abc".utf8)))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(Digest.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2], [1, 2, 3]))
        #expect(try SecureRandom.bytes(count: 32) != SecureRandom.bytes(count: 32))
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}

@Suite struct APIKeyAuthenticatorTests {
    let hasher = APIKeyHasher(pepper: Array("pepper".utf8))
    let key: APIKey
    let store: InMemoryAPIKeyStore
    let client: RPCClient

    init() throws {
        self.key = try APIKey.generate()
        self.store = InMemoryAPIKeyStore([self.hasher.record(for: self.key, principal: "dev-7")])
        let policy = Guarded.policy
        let router = Router(
            services: [GuardedService()],
            interceptors: [
                IdentityAuthorizationInterceptor(policy: policy),
                APIKeyAuthenticator(policy: policy, store: self.store, hasher: self.hasher),
            ])
        self.client = RPCClient(transport: InProcessTransport(router: router))
    }

    private func call(_ metadata: Metadata, method: MethodDescriptor = Guarded.withAPIKey) async throws -> String {
        try await self.client.unary(method, request: Blob(), metadata: metadata, responseType: Blob.self).message.text
    }

    private func code(_ metadata: Metadata) async -> (Status.Code, String)? {
        do {
            _ = try await self.call(metadata)
            return nil
        } catch let error as RPCError {
            return (error.code, error.message)
        } catch {
            return nil
        }
    }

    @Test func bearerAndXAPIKeyAuthenticateThePrincipal() async throws {
        let expected = "api-key:\(self.key.keyID) (dev-7)"
        #expect(try await self.call(["authorization": .string("Bearer \(self.key.reveal())")]) == expected)
        #expect(try await self.call(["authorization": .string("bearer \(self.key.reveal())")]) == expected)
        #expect(try await self.call(["x-api-key": .string(self.key.reveal())]) == expected)
    }

    @Test func missingWrongAndUnknownKeysAreUnauthenticatedAlike() async throws {
        let missing = await self.code([:])
        #expect(missing?.0 == .unauthenticated)

        let wrongSecret = String(self.key.reveal().dropLast(4)) + (self.key.reveal().hasSuffix("AAAA") ? "BBBB" : "AAAA")
        let unknownID = try APIKey.generate().reveal()
        let wrong = await self.code(["authorization": .string("Bearer \(wrongSecret)")])
        let unknown = await self.code(["authorization": .string("Bearer \(unknownID)")])
        let garbage = await self.code(["x-api-key": "nope"])
        #expect(wrong?.0 == .unauthenticated)
        // Same message whether or not the key id exists; and no key text echoed.
        #expect(wrong?.1 == unknown?.1)
        #expect(garbage?.1 == unknown?.1)
        #expect(wrong?.1.contains(self.key.keyID) == false)

        self.store.remove(keyID: self.key.keyID)
        #expect(await self.code(["x-api-key": .string(self.key.reveal())])?.0 == .unauthenticated)
    }

    @Test func servicesOnlyMethodsIgnoreAPIKeys() async throws {
        let denied = await #expect(throws: RPCError.self) {
            _ = try await self.call(["x-api-key": .string(self.key.reveal())], method: Guarded.forHostmgr)
        }
        #expect(denied?.code == .unauthenticated)
    }

    @Test func storeFailuresAreUnavailable() async throws {
        struct Broken: APIKeyStore {
            struct Failure: Error {}
            func lookUp(keyID: String) async throws -> StoredAPIKey? { throw Failure() }
        }
        let authenticator = APIKeyAuthenticator(policy: Guarded.policy, store: Broken(), hasher: self.hasher)
        let error = await #expect(throws: RPCError.self) {
            _ = try await authenticator.authenticate(["x-api-key": .string(self.key.reveal())])
        }
        #expect(error?.code == .unavailable)
    }
}
