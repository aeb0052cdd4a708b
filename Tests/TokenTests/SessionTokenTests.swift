import SkyportInterop
import SkyportRPC
import SkyportTokens
import Synchronization
import Testing

/// Published keys held in memory, counting how often they are fetched.
final class StaticKeys: TokenKeySource {
    private let state: Mutex<(keys: [String: Ed25519.PublicKey], fetches: Int)>
    /// When set, fetches fail (the home's host management is unreachable).
    let unreachable = Atomic<Bool>(false)

    init(_ keys: [TokenSigningKey]) {
        self.state = Mutex((Dictionary(uniqueKeysWithValues: keys.map { ($0.keyID, $0.publicKey) }), 0))
    }

    func publish(_ key: TokenSigningKey) {
        self.state.withLock { $0.keys[key.keyID] = key.publicKey }
    }

    func retire(_ keyID: String) {
        self.state.withLock { _ = $0.keys.removeValue(forKey: keyID) }
    }

    var fetches: Int { self.state.withLock { $0.fetches } }

    struct Unreachable: Error {}

    func publishedKeys() async throws -> [String: Ed25519.PublicKey] {
        if self.unreachable.load(ordering: .relaxed) { throw Unreachable() }
        return self.state.withLock { state in
            state.fetches += 1
            return state.keys
        }
    }
}

@Suite struct SessionTokenTests {
    static let now: Int64 = 1_795_300_000_000

    static func issue(
        _ key: TokenSigningKey, validity: Duration = .seconds(60), cidr: CIDR? = nil, at time: Int64 = Self.now
    ) throws -> TokenIssuer.Issued {
        try TokenIssuer(key: key, homeDatacentre: "dc1").issue(
            sessionID: "ses_1", appID: "app-1", validity: validity, clientCIDR: cidr, nowMilliseconds: time)
    }

    /// The status a verification ends with: `nil` for success, the token error's status, or UNKNOWN for
    /// anything that is not a `TokenError` (which fails the tests that expect a status).
    static func code(_ body: () async throws -> Void) async -> Status.Code? {
        do {
            try await body()
            return nil
        } catch let error as TokenError {
            return error.rpcError.status.code
        } catch {
            return .unknown
        }
    }

    @Test func aFreshTokenVerifiesAndCarriesItsClaims() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let issued = try Self.issue(key, cidr: CIDR("203.0.113.0/24"))
        #expect(issued.token.hasPrefix("skt1."))
        #expect(issued.token.utf8.count < 300)
        let verifier = TokenVerifier(source: StaticKeys([key]))
        let claims = try await verifier.verify(
            issued.token, clientAddress: "203.0.113.77", nowMilliseconds: Self.now + 1000)
        #expect(claims == issued.claims)
        #expect(claims.expiresAtMilliseconds == Self.now + 60_000)
        #expect(claims.nonce.count == 32)
        // Two tokens for the same session still differ (the nonce), and their hashes too.
        let second = try Self.issue(key)
        #expect(second.token != issued.token)
        #expect(SessionToken.hash(second.token) != SessionToken.hash(issued.token))
    }

    @Test func everySingleBitFlipIsRefused() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let token = try Self.issue(key).token
        let verifier = TokenVerifier(source: StaticKeys([key]))
        let body = Base64.decodeURL(String(token.dropFirst(SessionToken.prefix.count)))!
        for bit in 0..<(body.count * 8) {
            var flipped = body
            flipped[bit / 8] ^= 1 << (bit % 8)
            let altered = SessionToken.prefix + Base64.encodeURL(flipped)
            let code = await Self.code {
                _ = try await verifier.verify(altered, clientAddress: nil, nowMilliseconds: Self.now)
            }
            #expect(code == .unauthenticated || code == .invalidArgument, "bit \(bit) accepted")
        }
    }

    @Test func expiryHonoursTheSkewAllowanceAndValidityBounds() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let verifier = TokenVerifier(source: StaticKeys([key]), clockSkew: .seconds(5))
        let token = try Self.issue(key, validity: .seconds(1)).token
        _ = try await verifier.verify(token, clientAddress: nil, nowMilliseconds: Self.now + 1000 + 5000)
        do {
            _ = try await verifier.verify(token, clientAddress: nil, nowMilliseconds: Self.now + 1000 + 5001)
            Issue.record("an expired token verified")
        } catch {
            #expect(error == .expired(atMilliseconds: Self.now + 1000))
            #expect(error.rpcError.status.code == .unauthenticated)
        }
        let future = try Self.issue(key, at: Self.now + 60_000).token
        #expect(
            await Self.code { _ = try await verifier.verify(future, clientAddress: nil, nowMilliseconds: Self.now) }
                == .unauthenticated)
        #expect(throws: TokenIssuerError.self) { try Self.issue(key, validity: .milliseconds(999)) }
        #expect(throws: TokenIssuerError.self) { try Self.issue(key, validity: .seconds(7 * 24 * 3600 + 1)) }
        _ = try Self.issue(key, validity: .seconds(7 * 24 * 3600))
    }

    @Test func unknownKeysRefreshOnceThenAreRefused() async throws {
        let old = try TokenSigningKey.generate(keyID: "dc1-1")
        let rotated = try TokenSigningKey.generate(keyID: "dc1-2")
        let keys = StaticKeys([old])
        let verifier = TokenVerifier(source: keys, refreshInterval: .seconds(1))
        _ = try await verifier.verify(try Self.issue(old).token, clientAddress: nil, nowMilliseconds: Self.now)
        #expect(keys.fetches == 1)
        // A rotated key is published later: the unknown id triggers one refresh and then verifies.
        keys.publish(rotated)
        _ = try await verifier.verify(
            try Self.issue(rotated).token, clientAddress: nil, nowMilliseconds: Self.now + 2000)
        #expect(keys.fetches == 2)
        // A key nobody published: refused, and repeated attempts within the interval fetch nothing more.
        let stranger = try TokenSigningKey.generate(keyID: "evil")
        for offset in [3000, 3100, 3200] as [Int64] {
            let code = await Self.code {
                _ = try await verifier.verify(
                    try! Self.issue(stranger).token, clientAddress: nil, nowMilliseconds: Self.now + offset)
            }
            #expect(code == .unauthenticated)
        }
        #expect(keys.fetches == 3)
        // A token whose key id names a published key but which another key signed: bad signature.
        let forged = try Self.issue(TokenSigningKey(keyID: "dc1-1", privateKey: stranger.privateKey)).token
        do {
            _ = try await verifier.verify(forged, clientAddress: nil, nowMilliseconds: Self.now)
            Issue.record("a forged token verified")
        } catch {
            #expect(error == .badSignature)
        }
    }

    @Test func aRetiredKeyStopsVerifyingOnceTheCacheAges() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let keys = StaticKeys([key])
        let verifier = TokenVerifier(source: keys, maximumKeyAge: .seconds(60))
        let token = try Self.issue(key, validity: .seconds(3600)).token
        _ = try await verifier.verify(token, clientAddress: nil, nowMilliseconds: Self.now)
        keys.retire("dc1-1")
        // Still cached within the age...
        _ = try await verifier.verify(token, clientAddress: nil, nowMilliseconds: Self.now + 59_000)
        // ...and refused once the cache is refetched.
        let code = await Self.code {
            _ = try await verifier.verify(token, clientAddress: nil, nowMilliseconds: Self.now + 61_000)
        }
        #expect(code == .unauthenticated)
    }

    @Test func aKeyFetchedBeforeStillVerifiesWhenTheRefreshFails() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let keys = StaticKeys([key])
        let verifier = TokenVerifier(source: keys, maximumKeyAge: .seconds(60))
        let token = try Self.issue(key, validity: .seconds(3600)).token
        _ = try await verifier.verify(token, clientAddress: nil, nowMilliseconds: Self.now)
        keys.unreachable.store(true, ordering: .relaxed)
        let claims = try await verifier.verify(token, clientAddress: nil, nowMilliseconds: Self.now + 61_000)
        #expect(claims.keyID == "dc1-1")
        #expect(keys.fetches == 1)
        // A key never fetched is still refused.
        let other = try Self.issue(TokenSigningKey.generate(keyID: "dc1-2")).token
        let code = await Self.code {
            _ = try await verifier.verify(other, clientAddress: nil, nowMilliseconds: Self.now + 63_000)
        }
        #expect(code == .unavailable)
    }

    @Test func racingUnknownKeysFetchOnce() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let keys = StaticKeys([key])
        let verifier = TokenVerifier(source: keys)
        let forged = try (0..<50).map { try Self.issue(TokenSigningKey.generate(keyID: "evil-\($0)")).token }
        await withTaskGroup(of: Void.self) { group in
            for token in forged {
                group.addTask { _ = try? await verifier.verify(token, clientAddress: nil, nowMilliseconds: Self.now) }
            }
        }
        #expect(keys.fetches == 1)
    }

    @Test func racingRequestsOnAColdCacheWaitForTheFirstFetch() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let keys = StaticKeys([key])
        let verifier = TokenVerifier(source: keys)
        let tokens = try (0..<50).map { _ in try Self.issue(key).token }
        let verified = await withTaskGroup(of: Bool.self) { group in
            for token in tokens {
                group.addTask {
                    (try? await verifier.verify(token, clientAddress: nil, nowMilliseconds: Self.now)) != nil
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(verified == 50)
        #expect(keys.fetches == 1)
    }

    @Test func onlyTheCanonicalTextOfATokenVerifies() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let verifier = TokenVerifier(source: StaticKeys([key]))
        let token = try Self.issue(key).token
        // Change the unused low bits of the last character: same bytes, another text.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let last = token.last!
        let index = alphabet.firstIndex(of: last)!
        let variant = String(token.dropLast()) + String(alphabet[index ^ 1])
        if Base64.decodeURL(String(variant.dropFirst(5))) == Base64.decodeURL(String(token.dropFirst(5))) {
            let code = await Self.code {
                _ = try await verifier.verify(variant, clientAddress: nil, nowMilliseconds: Self.now)
            }
            #expect(code == .invalidArgument)
        }
        _ = try await verifier.verify(token, clientAddress: nil, nowMilliseconds: Self.now)
    }

    @Test func boundTokensOnlyVerifyFromTheirClients() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let verifier = TokenVerifier(source: StaticKeys([key]))
        let v4 = try Self.issue(key, cidr: CIDR("198.51.100.0/24")).token
        _ = try await verifier.verify(v4, clientAddress: "::ffff:198.51.100.9", nowMilliseconds: Self.now)
        for address: String? in ["198.51.101.9", nil, "not-an-address", "2001:db8::1"] {
            let code = await Self.code {
                _ = try await verifier.verify(v4, clientAddress: address, nowMilliseconds: Self.now)
            }
            #expect(code == .unauthenticated, "accepted from \(address ?? "nil")")
        }
        let v6 = try Self.issue(key, cidr: CIDR("2001:db8::/32")).token
        _ = try await verifier.verify(v6, clientAddress: "2001:db8:1::5", nowMilliseconds: Self.now)
    }

    @Test func garbageIsInvalidArgumentAndBounded() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let verifier = TokenVerifier(source: StaticKeys([key]))
        for garbage in ["", "skt1.", "skt2.AAAA", "skt1.!!!!", "skt1.AAAA", String(repeating: "A", count: 100_000)] {
            let code = await Self.code {
                _ = try await verifier.verify(garbage, clientAddress: nil, nowMilliseconds: Self.now)
            }
            #expect(code == .invalidArgument, "\(garbage.prefix(20))")
        }
    }

    @Test func rawBytesReencodeToTheCanonicalTextThatVerifies() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let issued = try Self.issue(key)
        let text = SessionToken.text(fromBytes: issued.bytes)
        #expect(text == issued.token)
        #expect(SessionToken.hash(text) == SessionToken.hash(issued.token))
        let claims = try await TokenVerifier(source: StaticKeys([key])).verify(
            text, clientAddress: nil, nowMilliseconds: Self.now)
        #expect(claims == issued.claims)
    }

    @Test func unverifiedClaimsNameTheHomeButCheckOnlyTheForm() async throws {
        let key = try TokenSigningKey.generate(keyID: "dc1-1")
        let issued = try TokenIssuer(key: key, homeDatacentre: "dc7").issue(
            sessionID: "ses_7", appID: "app-7", nowMilliseconds: Self.now)
        let claims = try SessionToken.parse(issued.token).unverifiedClaims
        #expect(claims.homeDatacentre == "dc7")
        #expect(claims.sessionID == "ses_7")
        #expect(claims.keyID == "dc1-1")
        // A token signed by a key nobody publishes still has readable claims (nothing is verified) ...
        let stranger = try TokenSigningKey.generate(keyID: "nobody")
        let forged = try TokenIssuer(key: stranger, homeDatacentre: "dc7").issue(
            sessionID: "ses_8", appID: "app-7", nowMilliseconds: Self.now)
        #expect(try SessionToken.parse(forged.token).unverifiedClaims.homeDatacentre == "dc7")
        // ... while what is not a token at all is refused as malformed.
        for garbage in ["", "skt1.", "skt1.AAAA", "skt2." + issued.token.dropFirst(5)] {
            #expect(throws: TokenError.self, "\(garbage.prefix(20))") { try SessionToken.parse(garbage) }
        }
    }

    @Test func cidrParsing() {
        #expect(CIDR("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(CIDR("10.1.2.3")?.description == "10.1.2.3/32")
        #expect(CIDR("2001:db8::7/32")?.description == "2001:db8::/32")
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("10.0.0.0/-1") == nil)
        #expect(CIDR("example.com/8") == nil)
        #expect(CIDR("0.0.0.0/0")!.contains("8.8.8.8"))
    }
}
