public import SkyportInterop
import SkyportRPC
import Synchronization

/// Where a verifier gets the public keys host managements publish: key id → key.
public protocol TokenKeySource: Sendable {
    /// Every currently published key.
    func publishedKeys() async throws -> [String: Ed25519.PublicKey]
}

/// Verifies session tokens without any database: form, signature (Ed25519, by key id), time (with a
/// clock-skew allowance) and client binding. Public keys are cached for `maximumKeyAge` (so a retired
/// key stops verifying); an unknown key id refreshes the cache from the source, at most once per
/// `refreshInterval` however many requests race, so forged key ids cannot make it hammer the source.
/// Requests that arrive while a refresh runs wait for it (the first tokens after a node starts all
/// verify once the first fetch lands).
public final class TokenVerifier: Sendable {
    private let source: any TokenKeySource
    private let clockSkewMilliseconds: Int64
    private let refreshIntervalMilliseconds: Int64
    private let maximumKeyAgeMilliseconds: Int64
    private struct Cache {
        var keys: [String: Ed25519.PublicKey] = [:]
        var fetchedAt: Int64?
        var attemptedAt: Int64?
        /// The refresh running now, which racing requests wait for.
        var fetching: Task<[String: Ed25519.PublicKey], any Error>?
    }
    private let cache = Mutex(Cache())

    /// The clock skew verifiers allow by default, and the grace host management gives a claim after
    /// the token's expiry: one number, so a token that verifies can still be claimed.
    public static let defaultClockSkew: Duration = .seconds(5)

    /// A verifier over `source`.
    ///
    /// - Parameters:
    ///   - clockSkew: how far the issuer's clock may be ahead or behind (default 5 s).
    ///   - refreshInterval: the least time between two refreshes of the keys for an unknown key id.
    ///   - maximumKeyAge: how long fetched keys are trusted before they are fetched again.
    public init(
        source: any TokenKeySource, clockSkew: Duration = TokenVerifier.defaultClockSkew,
        refreshInterval: Duration = .seconds(1), maximumKeyAge: Duration = .seconds(60)
    ) {
        self.source = source
        self.clockSkewMilliseconds = clockSkew.wholeMilliseconds
        self.refreshIntervalMilliseconds = refreshInterval.wholeMilliseconds
        self.maximumKeyAgeMilliseconds = maximumKeyAge.wholeMilliseconds
    }

    /// The claims of `token` when it is well-formed, signed by a published key, current at `now`, and
    /// (when bound) presented from `clientAddress`.
    ///
    /// - Throws: ``TokenError``; its ``TokenError/rpcError`` is the status to answer with.
    public func verify(_ token: String, clientAddress: String?, nowMilliseconds: Int64) async throws(TokenError)
        -> SessionTokenClaims
    {
        try await self.verify(SessionToken.parse(token), clientAddress: clientAddress, nowMilliseconds: nowMilliseconds)
    }

    /// The same check of a token parsed already (parsing once to find its home, say).
    public func verify(
        _ token: SessionToken.Parsed, clientAddress: String?, nowMilliseconds: Int64
    ) async throws(TokenError) -> SessionTokenClaims {
        let claims = token.unverifiedClaims
        let key = try await self.key(claims.keyID, nowMilliseconds: nowMilliseconds)
        guard key.isValidSignature(token.signature, for: token.signed) else { throw .badSignature }
        guard nowMilliseconds <= claims.expiresAtMilliseconds + self.clockSkewMilliseconds else {
            throw .expired(atMilliseconds: claims.expiresAtMilliseconds)
        }
        guard claims.issuedAtMilliseconds <= nowMilliseconds + self.clockSkewMilliseconds else { throw .notYetValid }
        if let cidr = claims.clientCIDR {
            guard let clientAddress, cidr.contains(clientAddress) else { throw .wrongClient }
        }
        return claims
    }

    private func key(_ keyID: String, nowMilliseconds: Int64) async throws(TokenError) -> Ed25519.PublicKey {
        enum Next { case use(Ed25519.PublicKey), refuse, wait(Task<[String: Ed25519.PublicKey], any Error>) }
        // Decide and start the fetch under one lock, so racing requests fetch once and wait for it.
        let next = self.cache.withLock { cache -> Next in
            let fresh = cache.fetchedAt.map { nowMilliseconds - $0 < self.maximumKeyAgeMilliseconds } ?? false
            if fresh, let key = cache.keys[keyID] { return .use(key) }
            if let fetching = cache.fetching { return .wait(fetching) }
            if let attempted = cache.attemptedAt, nowMilliseconds - attempted < self.refreshIntervalMilliseconds {
                return fresh ? .refuse : (cache.keys[keyID].map { .use($0) } ?? .refuse)
            }
            cache.attemptedAt = nowMilliseconds
            let source = self.source
            let fetching = Task { try await source.publishedKeys() }
            cache.fetching = fetching
            return .wait(fetching)
        }
        let fetching: Task<[String: Ed25519.PublicKey], any Error>
        switch next {
        case .use(let key): return key
        case .refuse: throw .unknownKey(keyID)
        case .wait(let task): fetching = task
        }
        let result = await fetching.result
        let cached = self.cache.withLock { cache -> Ed25519.PublicKey? in
            if cache.fetching == fetching {
                cache.fetching = nil
                if case .success(let keys) = result {
                    cache.keys = keys
                    cache.fetchedAt = nowMilliseconds
                }
            }
            return cache.keys[keyID]
        }
        let keys: [String: Ed25519.PublicKey]
        switch result {
        case .success(let fetched): keys = fetched
        case .failure(let error):
            // As after a failed refresh that is not retried yet: a key fetched before still verifies.
            if let cached { return cached }
            throw .keysUnavailable("\(error)")
        }
        guard let key = keys[keyID] else { throw .unknownKey(keyID) }
        return key
    }
}
