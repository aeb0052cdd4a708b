import Foundation
import Logging
import SkyportConfig
import SkyportInterop
import SkyportProto
import SkyportRPC
import SkyportService
import SkyportTokens
import Testing

@testable import RedemptionService

/// A real node between fake host managements, all over loopback mutual TLS: tokens signed by real
/// issuers, verified with keys fetched by `GetTokenKeys`, routed from probe state, forwarded by
/// `RedeemSession`.
@Suite(.serialized) struct RedemptionEndToEndTests {
    static func now() -> Int64 { ServiceSupport.nowUnixMilliseconds() }

    /// The status `call` ends with (OK when it returns).
    static func status(_ call: () async throws -> Void) async -> Status.Code {
        do {
            try await call()
            return .ok
        } catch let error as RPCError {
            return error.code
        } catch {
            Issue.record("not an RPC error: \(error)")
            return .unknown
        }
    }

    static func request(bytes: [UInt8]) -> Skyport_Redemption_V1_RedeemRequest {
        var request = Skyport_Redemption_V1_RedeemRequest()
        request.token = bytes
        return request
    }

    static func request(text: String) -> Skyport_Redemption_V1_RedeemRequest {
        var request = Skyport_Redemption_V1_RedeemRequest()
        request.tokenText = text
        return request
    }

    /// The client's address as a trusted proxy (127.0.0.1 in these tests) states it.
    static func from(_ address: String) -> Metadata { ["x-forwarded-for": .string(address)] }

    /// Whether any log line holds `token` or a recognisable piece of it.
    static func logsHold(_ token: String, _ logs: LogLines) -> Bool {
        let body = String(token.dropFirst(SessionToken.prefix.count))
        let pieces = [token, String(body.prefix(32)), String(body.suffix(32))]
        return logs.all.contains { line in pieces.contains { line.contains($0) } }
    }

    @Test func aTokenIsRedeemedAtTheNearestDataCentreAndOnlyOnce() async throws {
        try await RedemptionHarness.with { harness in
            try await harness.waitUntilBothUp()
            let issued = try harness.dc1.issuer.issue(
                sessionID: "ses_near_dc2", appID: "app-1", clientCIDR: CIDR("198.51.100.0/24"),
                nowMilliseconds: Self.now())

            // Raw bytes, from a client near dc2 (Sydney) behind the trusted proxy.
            let response = try await harness.withClient(as: nil) { client in
                try await client.redeem(
                    Self.request(bytes: issued.bytes), metadata: Self.from(RedemptionHarness.nearDC2))
            }
            #expect(response.sessionId == "ses_near_dc2")
            #expect(response.datacentre == "dc2")
            #expect(response.clientAddress == "dc2.example:7443")
            #expect(response.sessionCredential == [0xC0, 0xFF, 0xEE])
            #expect(response.instanceId == "ins_1")
            #expect(response.appId == "app-1")
            #expect(response.versionId == "v1")
            #expect(response.connectByUnixMs == 1_900_000_000_000)
            #expect(response.placementReason == "warm instance")
            #expect(response.routeReason.hasPrefix("dc2: nearest ("), "\(response.routeReason)")
            #expect(response.routeReason.hasSuffix("up, 7/8 slots free"))

            // The forward: the verified session, the hash of the canonical text, the home, the ranking.
            let forwarded = try #require(harness.dc2.redeemed.first)
            #expect(harness.dc2.redeemed.count == 1)
            #expect(harness.dc1.redeemed.isEmpty)
            #expect(forwarded.sessionId == "ses_near_dc2")
            #expect(forwarded.tokenHash == SessionToken.hash(issued.token))
            #expect(forwarded.homeDatacentre == "dc1")
            #expect(forwarded.preferredDatacentres == ["dc2", "dc1"])
            #expect(harness.routes("dc2", "best") == 1)

            // The same token again, as text this time: the home's claim refuses it, and that answer
            // reaches the client as is.
            let again = await Self.status {
                _ = try await harness.withClient(as: nil) { client in
                    try await client.redeem(
                        Self.request(text: issued.token), metadata: Self.from(RedemptionHarness.nearDC2))
                }
            }
            #expect(again == .failedPrecondition)
            #expect(harness.routes("dc2", "best") == 1)

            // One decision line, with the session id and never the token.
            let decisions = harness.logs.all.filter { $0.contains("msg=\"redemption routed\"") }
            #expect(decisions.count == 1)
            #expect(decisions.first?.contains("session.id=ses_near_dc2") == true)
            #expect(decisions.first?.contains("datacentre=dc2") == true)
            #expect(decisions.first?.contains("route=best") == true)
            #expect(!Self.logsHold(issued.token, harness.logs))
        }
    }

    @Test func theOperatorSeesProbeStateAndRouteExplanations() async throws {
        try await RedemptionHarness.with { harness in
            try await harness.waitUntilBothUp()
            let listed = try await harness.datacentres()
            for id in ["dc1", "dc2"] {
                let datacentre = try #require(listed[id])
                #expect(datacentre.up)
                #expect(datacentre.latencyMs > 0)
                #expect(datacentre.freeSlots == 7)
                #expect(datacentre.totalSlots == 8)
                #expect(datacentre.probedAtUnixMs > 0)
            }
            #expect(listed["dc2"]?.region == "ap-southeast")
            #expect(listed["dc2"]?.latitude == -33.87)

            try await harness.withClient(as: "skyport") { client in
                var request = Skyport_Redemption_V1_ExplainRouteRequest()
                request.clientAddress = RedemptionHarness.nearDC1
                let decision = try await client.explainRoute(request)
                #expect(decision.clientLocated)
                #expect(decision.clientRegion == "eu-west")
                #expect(decision.networkProvider == "AmsNet")
                #expect(decision.candidates.map(\.datacentreId) == ["dc1", "dc2"])
                #expect(decision.candidates[0].distanceKm < 10)
                #expect(decision.candidates[1].distanceKm > 16_000)
                #expect(decision.candidates[0].score < decision.candidates[1].score)
                #expect(decision.reason.hasPrefix("dc1: nearest ("), "\(decision.reason)")

                request.clientAddress = "192.0.2.1"
                let unlocated = try await client.explainRoute(request)
                #expect(!unlocated.clientLocated)
                #expect(unlocated.candidates.count == 2)
                #expect(unlocated.reason.hasSuffix("client not located"))

                request.clientAddress = "not-an-address"
                await #expect(throws: RPCError.self) { try await client.explainRoute(request) }
            }
            // Operator methods need the operator's certificate.
            let anonymous = await Self.status {
                _ = try await harness.withClient(as: nil) { client in try await client.listDataCentres(.init()) }
            }
            #expect(anonymous == .unauthenticated)
        }
    }

    @Test(arguments: [Status.Code.unavailable, .resourceExhausted, .deadlineExceeded])
    func aFailedForwardFallsOverToTheNextDataCentre(failure: Status.Code) async throws {
        try await RedemptionHarness.with { harness in
            try await harness.waitUntilBothUp()
            harness.dc2.update { $0.redeemAnswer = .fail(failure) }
            let issued = try harness.dc1.issuer.issue(
                sessionID: "ses_failover", appID: "app-1", nowMilliseconds: Self.now())
            let response = try await harness.withClient(as: nil) { client in
                try await client.redeem(
                    Self.request(text: issued.token), metadata: Self.from(RedemptionHarness.nearDC2))
            }
            #expect(response.datacentre == "dc1")
            #expect(response.routeReason.hasPrefix("dc1: dc2 "), "\(response.routeReason)")
            #expect(harness.dc2.redeemed.count == 1)
            #expect(harness.dc1.redeemed.map(\.preferredDatacentres) == [["dc1"]])
            #expect(harness.routes("dc1", "fallback_error") == 1)
            #expect(harness.routes("dc2", "best") == 0)
        }
    }

    @Test func aDestinationThatClaimedBeforeFailingMakesTheRetryRedeemedAlready() async throws {
        try await RedemptionHarness.with { harness in
            try await harness.waitUntilBothUp()
            harness.dc2.update { $0.redeemAnswer = .claimThenFail(.unavailable) }
            let issued = try harness.dc1.issuer.issue(
                sessionID: "ses_claimed", appID: "app-1", nowMilliseconds: Self.now())
            let code = await Self.status {
                _ = try await harness.withClient(as: nil) { client in
                    try await client.redeem(
                        Self.request(text: issued.token), metadata: Self.from(RedemptionHarness.nearDC2))
                }
            }
            #expect(code == .failedPrecondition)
            #expect(harness.dc1.redeemed.count == 1)
        }
    }

    @Test func dataCentresThatAreDownOrFullAreSkippedUntilTheyRecover() async throws {
        try await RedemptionHarness.with { harness in
            try await harness.waitUntilBothUp()
            func redeem(_ session: String) async throws -> Skyport_Redemption_V1_RedeemResponse {
                let issued = try harness.dc1.issuer.issue(
                    sessionID: session, appID: "app-1", nowMilliseconds: Self.now())
                return try await harness.withClient(as: nil) { client in
                    try await client.redeem(
                        Self.request(text: issued.token), metadata: Self.from(RedemptionHarness.nearDC2))
                }
            }
            func explain() async throws -> Skyport_Redemption_V1_RouteDecision {
                try await harness.withClient(as: "skyport") { client in
                    var request = Skyport_Redemption_V1_ExplainRouteRequest()
                    request.clientAddress = RedemptionHarness.nearDC2
                    return try await client.explainRoute(request)
                }
            }

            // dc2 stops answering probes: down, skipped, and the client near it goes to dc1.
            harness.dc2.update { $0.capacityFailure = .unavailable }
            try await harness.waitForProbes { $0["dc2"]?.up == false }
            let down = try await explain()
            #expect(down.candidates.map(\.datacentreId) == ["dc1", "dc2"])
            #expect(down.candidates[1].skippedBecause == "down: last probe failed (UNAVAILABLE)")
            #expect(down.reason.hasPrefix("dc1: dc2 is down; "), "\(down.reason)")
            #expect(try await redeem("ses_down").datacentre == "dc1")
            #expect(harness.routes("dc1", "fallback_down") == 1)

            // dc2 answers again but has no free slot: full, skipped.
            harness.dc2.update {
                $0.capacityFailure = nil
                $0.freeSlots = 0
            }
            try await harness.waitForProbes { $0["dc2"]?.up == true }
            let full = try await explain()
            #expect(full.candidates[1].skippedBecause == "full: 0/8 slots free")
            #expect(full.reason.hasPrefix("dc1: dc2 is full; "), "\(full.reason)")
            #expect(try await redeem("ses_full").datacentre == "dc1")
            #expect(harness.routes("dc1", "fallback_full") == 1)

            // dc2 has room again: the client goes back to it.
            harness.dc2.update { $0.freeSlots = 5 }
            try await harness.waitForProbes { $0["dc2"]?.freeSlots == 5 }
            #expect(try await redeem("ses_back").datacentre == "dc2")
            #expect(harness.dc2.redeemed.map(\.sessionId) == ["ses_back"])

            // Neither: no data centre can take it.
            harness.dc1.update { $0.capacityFailure = .unavailable }
            harness.dc2.update { $0.capacityFailure = .unavailable }
            try await harness.waitForProbes { $0["dc1"]?.up == false && $0["dc2"]?.up == false }
            let none = await Self.status { _ = try await redeem("ses_none") }
            #expect(none == .unavailable)
        }
    }

    @Test func badTokensAreRefusedBeforeAnyForwardAndNeverLogged() async throws {
        try await RedemptionHarness.with { harness in
            try await harness.waitUntilBothUp()
            let now = Self.now()
            let good = try harness.dc1.issuer.issue(sessionID: "ses_bad", appID: "app-1", nowMilliseconds: now)
            var tokens: [String] = [good.token]
            func redeem(_ request: Skyport_Redemption_V1_RedeemRequest) async -> Status.Code {
                await Self.status {
                    _ = try await harness.withClient(as: nil) { client in
                        try await client.redeem(request, metadata: Self.from(RedemptionHarness.nearDC2))
                    }
                }
            }

            // One bit flipped in the signature: forged.
            var flipped = good.bytes
            flipped[flipped.count - 1] ^= 0x01
            tokens.append(SessionToken.text(fromBytes: flipped))
            #expect(await redeem(Self.request(bytes: flipped)) == .unauthenticated)
            // One bit flipped inside the signed claims: never accepted.
            for index in [8, good.bytes.count / 2] {
                var altered = good.bytes
                altered[index] ^= 0x04
                tokens.append(SessionToken.text(fromBytes: altered))
                let code = await redeem(Self.request(bytes: altered))
                #expect(code == .unauthenticated || code == .invalidArgument, "bit flip at \(index): \(code)")
            }

            // Expired (beyond the clock-skew allowance).
            let expired = try harness.dc1.issuer.issue(
                sessionID: "ses_old", appID: "app-1", validity: .seconds(60), nowMilliseconds: now - 120_000)
            tokens.append(expired.token)
            #expect(await redeem(Self.request(text: expired.token)) == .unauthenticated)

            // Signed by a key dc1 never published, and a home this node does not know.
            let rogue = try TokenIssuer(key: try TokenSigningKey.generate(keyID: "dc1-rogue"), homeDatacentre: "dc1")
                .issue(sessionID: "ses_rogue", appID: "app-1", nowMilliseconds: now)
            tokens.append(rogue.token)
            #expect(await redeem(Self.request(text: rogue.token)) == .unauthenticated)
            let stranger = try TokenIssuer(key: harness.dc1.issuer.key, homeDatacentre: "dc9")
                .issue(sessionID: "ses_dc9", appID: "app-1", nowMilliseconds: now)
            tokens.append(stranger.token)
            #expect(await redeem(Self.request(text: stranger.token)) == .unauthenticated)

            // dc2's key does not verify a token claiming dc1 as its home.
            let crossed = try TokenIssuer(key: harness.dc2.issuer.key, homeDatacentre: "dc1")
                .issue(sessionID: "ses_crossed", appID: "app-1", nowMilliseconds: now)
            tokens.append(crossed.token)
            #expect(await redeem(Self.request(text: crossed.token)) == .unauthenticated)

            // Bound to other clients.
            let bound = try harness.dc1.issuer.issue(
                sessionID: "ses_bound", appID: "app-1", clientCIDR: CIDR("203.0.113.0/24"), nowMilliseconds: now)
            tokens.append(bound.token)
            #expect(await redeem(Self.request(text: bound.token)) == .unauthenticated)

            // Not tokens at all.
            #expect(await redeem(Skyport_Redemption_V1_RedeemRequest()) == .invalidArgument)
            #expect(await redeem(Self.request(bytes: [UInt8](repeating: 7, count: 4097))) == .invalidArgument)
            #expect(await redeem(Self.request(text: String(repeating: "A", count: 5000))) == .invalidArgument)
            #expect(await redeem(Self.request(text: "skt1.not-a-token")) == .invalidArgument)

            #expect(harness.dc1.redeemed.isEmpty)
            #expect(harness.dc2.redeemed.isEmpty)
            // The refusals were logged (one line per call), the tokens never.
            #expect(harness.logs.all.filter { $0.contains("code=UNAUTHENTICATED") }.count >= 6)
            for token in tokens {
                #expect(!Self.logsHold(token, harness.logs))
            }
        }
    }

    @Test func xForwardedForCountsOnlyFromTrustedProxies() async throws {
        // No trusted proxy: the header is ignored and the TCP peer (127.0.0.1) is the client.
        try await RedemptionHarness.with(trustedProxies: "") { harness in
            try await harness.waitUntilBothUp()
            let now = Self.now()
            let boundElsewhere = try harness.dc1.issuer.issue(
                sessionID: "ses_xff_1", appID: "app-1", clientCIDR: CIDR("198.51.100.0/24"), nowMilliseconds: now)
            let refused = await Self.status {
                _ = try await harness.withClient(as: nil) { client in
                    try await client.redeem(
                        Self.request(text: boundElsewhere.token), metadata: Self.from(RedemptionHarness.nearDC2))
                }
            }
            #expect(refused == .unauthenticated)

            let boundHere = try harness.dc1.issuer.issue(
                sessionID: "ses_xff_2", appID: "app-1", clientCIDR: CIDR("127.0.0.0/8"), nowMilliseconds: now)
            let response = try await harness.withClient(as: nil) { client in
                try await client.redeem(
                    Self.request(text: boundHere.token), metadata: Self.from(RedemptionHarness.nearDC2))
            }
            // 127.0.0.1 is in no prefix: ranked by measured latency and load only.
            #expect(response.routeReason.hasSuffix("client not located"), "\(response.routeReason)")
        }
    }

    @Test func badConfigurationStopsTheStartNamingTheProblem() async throws {
        let directory = try RedemptionHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = directory + "/bad.csv"
        try "cidr,latitude,longitude,region,network_provider\n10.0.0.0/8,1,1,r,p\n10.0.0.0/8,95,1,r,p\n".write(
            toFile: table, atomically: true, encoding: .utf8)
        let cases: [(flags: [String], key: String, problem: String)] = [
            (["--prefix-table", table], "prefix-table", "\(table) line 3: latitude"),
            (["--probe-interval", "50ms"], "probe-interval", "at least 100ms"),
            (["--datacentre-locations", "dc1=52.37/4.90/eu-west"], "datacentre-locations", "no location for dc2"),
            (["--hostmgrs", "DC1=127.0.0.1:7103"], "hostmgrs", "a-z"),
        ]
        let specification = Redemption.specification
        for (flags, key, problem) in cases {
            let configuration = try specification.configSchema.parse(
                arguments: RedemptionHarness.arguments(directory, service: "redemption", data: "data") + flags,
                environment: [:])
            do {
                _ = try await ServiceRuntime(
                    specification: specification, configuration: configuration, logger: Logger(label: "test"))
                Issue.record("started with \(flags)")
            } catch let error as ConfigError {
                #expect(error.key == key)
                #expect(error.message.contains(problem), "\(error.message)")
            }
        }
        // Values that are not even of the key's type fail while parsing.
        for flags in [["--datacentre-locations", "dc1=95/4.90/eu-west"], ["--trusted-proxies", "10.0.0.0/99"]] {
            #expect(throws: ConfigError.self) {
                try specification.configSchema.parse(
                    arguments: RedemptionHarness.arguments(directory, service: "redemption", data: "data") + flags,
                    environment: [:])
            }
        }
    }
}
