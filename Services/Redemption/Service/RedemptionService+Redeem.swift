import Logging
public import SkyportProto
public import SkyportRPC
import SkyportService
import SkyportTokens

extension RedemptionService {
    /// Redeems a token: checks its form, verifies it with its home data centre's published keys (and its
    /// client binding against the caller's address), ranks the data centres for the caller, and forwards
    /// `RedeemSession` to the best one's host management, falling over to the next when one cannot be
    /// reached, times out, or is out of capacity. Every other answer is the caller's, as is.
    public func redeem(
        _ request: Skyport_Redemption_V1_RedeemRequest, context: ServerContext
    ) async throws -> Skyport_Redemption_V1_RedeemResponse {
        let token = try Self.tokenText(request)
        let clientAddress = self.trustedProxies.clientAddress(peer: context.peer, metadata: context.requestMetadata)
        let claims = try await self.verify(token, clientAddress: clientAddress)
        let decision = self.route(for: clientAddress)

        var remaining = decision.toTry
        var failed: [(id: String, why: String)] = []
        while !remaining.isEmpty {
            let candidate = remaining.removeFirst()
            var forward = Skyport_Hostmgr_V1_RedeemSessionRequest()
            forward.sessionId = claims.sessionID
            forward.tokenHash = SessionToken.hash(token)
            forward.homeDatacentre = claims.homeDatacentre
            forward.preferredDatacentres = [candidate.id] + remaining.map(\.id)
            switch try await self.forward(forward, to: candidate.id, context: context) {
            case .placed(let placement):
                return self.placed(placement, candidate: candidate, decision: decision, failed: failed)
            case .failed(let why):
                self.logger.warning(
                    "forwarding a redemption failed; trying the next data centre",
                    metadata: ["session.id": "\(claims.sessionID)", "datacentre": "\(candidate.id)", "why": "\(why)"])
                failed.append((candidate.id, why))
            }
        }
        self.logger.warning(
            "redemption not routed",
            metadata: [
                "session.id": "\(claims.sessionID)",
                "reason": "\(decision.candidates.isEmpty ? "no data centre is known" : Self.noDatacentre)",
                "tried": "\(failed.map { "\($0.id) \($0.why)" }.joined(separator: "; "))",
            ])
        throw RPCError(code: .unavailable, message: Self.noDatacentre)
    }

    /// The canonical token text of `request`: its bytes re-encoded, else its text.
    static func tokenText(_ request: Skyport_Redemption_V1_RedeemRequest) throws(RPCError) -> String {
        if !request.token.isEmpty {
            guard request.token.count <= Self.maximumTokenBytes else {
                throw RPCError(code: .invalidArgument, message: "token is longer than \(Self.maximumTokenBytes) bytes")
            }
            return SessionToken.text(fromBytes: request.token)
        }
        guard !request.tokenText.isEmpty else {
            throw RPCError(code: .invalidArgument, message: "token or token_text is required")
        }
        guard request.tokenText.utf8.count <= Self.maximumTokenBytes else {
            throw RPCError(code: .invalidArgument, message: "token_text is longer than \(Self.maximumTokenBytes) bytes")
        }
        return request.tokenText
    }

    /// The verified claims of `token`, or the status to answer with. The claims read before verifying
    /// only choose the home data centre whose keys verify it.
    func verify(_ token: String, clientAddress: String?) async throws(RPCError) -> SessionTokenClaims {
        let parsed: SessionToken.Parsed
        do {
            parsed = try SessionToken.parse(token)
        } catch {
            throw error.rpcError
        }
        guard let verifier = self.verifiers.verifier(for: parsed.unverifiedClaims.homeDatacentre) else {
            throw RPCError(code: .unauthenticated, message: "the token's home data centre is not known to this node")
        }
        do {
            return try await verifier.verify(
                parsed, clientAddress: clientAddress, nowMilliseconds: ServiceSupport.nowUnixMilliseconds())
        } catch {
            throw error.rpcError
        }
    }

    /// What one forward came to.
    enum ForwardOutcome {
        /// Host management placed the session.
        case placed(Skyport_Hostmgr_V1_SessionPlacement)
        /// Try the next data centre; why this one could not take it.
        case failed(String)
    }

    /// Forwards to `datacentre`'s host management. Unreachable, timed out (within the full forward
    /// timeout) and out-of-capacity answers are failures to fall over from, and mark the data centre
    /// down (or full) until its next successful probe; any other error is thrown as is.
    private func forward(
        _ request: Skyport_Hostmgr_V1_RedeemSessionRequest, to datacentre: String, context: ServerContext
    ) async throws(RPCError) -> ForwardOutcome {
        var timeout = Self.forwardTimeout
        if let deadline = context.deadline {
            timeout = min(timeout, deadline - ContinuousClock.now)
            guard timeout > .zero else {
                throw RPCError(code: .deadlineExceeded, message: "the call's deadline passed")
            }
        }
        let hostmgr: Skyport_Hostmgr_V1_HostManagerClient
        do {
            guard let address = self.directory.address(of: datacentre) else { return .failed("is no longer known") }
            hostmgr = try self.connector.hostManager(at: address)
        } catch {
            self.directory.markDown(datacentre, because: "its host management cannot be reached")
            return .failed("could not be reached")
        }
        do {
            return .placed(try await hostmgr.redeemSession(request, options: CallOptions(timeout: timeout)))
        } catch let error as RPCError {
            switch error.code {
            case .deadlineExceeded where timeout < Self.forwardTimeout:
                // The caller's deadline, not the data centre, cut it short.
                throw error
            case .unavailable, .deadlineExceeded:
                self.directory.markDown(datacentre, because: "a forward failed (\(error.code))")
                return .failed("did not answer (\(error.code))")
            case .resourceExhausted:
                self.directory.markFull(datacentre)
                return .failed("is full")
            default:
                throw error
            }
        } catch {
            self.directory.markDown(datacentre, because: "a forward failed")
            return .failed("could not be reached")
        }
    }

    /// The response for a placed session, after logging and counting the decision.
    private func placed(
        _ placement: Skyport_Hostmgr_V1_SessionPlacement, candidate: RouteRanker.Candidate,
        decision: RouteRanker.Decision, failed: [(id: String, why: String)]
    ) -> Skyport_Redemption_V1_RedeemResponse {
        let reason = RouteRanker.reason(for: candidate, in: decision, failed: failed)
        let kind: RouteMetrics.Reason =
            if !failed.isEmpty { .fallbackError } else {
                switch RouteRanker.passedOver(candidate, in: decision).first?.skip {
                case nil: .best
                case .full: .fallbackFull
                case .down, .notProbed: .fallbackDown
                }
            }
        self.metrics.routed(to: candidate.id, kind)
        self.logger.info(
            "redemption routed",
            metadata: [
                "session.id": "\(placement.sessionId)", "datacentre": "\(candidate.id)",
                "placed_in": "\(placement.datacentre)", "route": "\(kind.rawValue)", "reason": "\(reason)",
            ])
        var response = Skyport_Redemption_V1_RedeemResponse()
        response.sessionId = placement.sessionId
        response.clientAddress = placement.clientAddress
        response.sessionCredential = placement.sessionCredential
        response.datacentre = placement.datacentre
        response.connectByUnixMs = placement.connectByUnixMs
        response.appId = placement.appId
        response.versionId = placement.versionId
        response.instanceId = placement.instanceId
        response.routeReason = reason
        response.placementReason = placement.reason
        return response
    }
}
