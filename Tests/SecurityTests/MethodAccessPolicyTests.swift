import SkyportRPC
import SkyportSecurity
import SkyportTestSupport
import Testing

@Suite struct MethodAccessPolicyTests {
    let policy = Guarded.policy

    @Test func listedCommonNameIsAllowed() {
        let decision = self.policy.decide(method: Guarded.forHostmgr, identity: TLSIdentity(commonName: "hostmgr"))
        #expect(decision == .allowService("hostmgr"))
        #expect(
            self.policy.decide(method: Guarded.forHostmgr, identity: TLSIdentity(commonName: "entitlement"))
                == .allowService("entitlement"))
    }

    @Test func spiffeURIInTheTrustDomainNamesTheService() {
        let identity = TLSIdentity(commonName: "something-else", uris: ["spiffe://skyport.local/hostmgr"])
        #expect(self.policy.decide(method: Guarded.forHostmgr, identity: identity) == .allowService("hostmgr"))
        let foreign = TLSIdentity(commonName: nil, uris: ["spiffe://elsewhere/hostmgr"])
        #expect(self.policy.decide(method: Guarded.forHostmgr, identity: foreign).deniedCode == .permissionDenied)
    }

    @Test func dnsNamesAreNotIdentities() {
        let identity = TLSIdentity(commonName: "billing", dnsNames: ["hostmgr"])
        #expect(self.policy.decide(method: Guarded.forHostmgr, identity: identity).deniedCode == .permissionDenied)
    }

    @Test func unlistedServiceIsPermissionDenied() {
        let decision = self.policy.decide(method: Guarded.forHostmgr, identity: TLSIdentity(commonName: "billing"))
        #expect(decision.deniedCode == .permissionDenied)
        #expect(decision.deniedMessage?.contains("billing") == true)
    }

    @Test func noCertificateIsUnauthenticated() {
        #expect(self.policy.decide(method: Guarded.forHostmgr, identity: nil).deniedCode == .unauthenticated)
    }

    @Test func undeclaredMethodFailsClosedEvenForKnownServices() {
        #expect(
            self.policy.decide(method: Guarded.undeclared, identity: TLSIdentity(commonName: "hostmgr")).deniedCode
                == .permissionDenied)
        #expect(self.policy.decide(method: Guarded.undeclared, identity: nil).deniedCode == .permissionDenied)
    }

    @Test func healthAndReflectionArePublicByDefault() {
        for service in MethodAccessPolicy.defaultPublicServices {
            let method = MethodDescriptor(service: service, method: "Anything")
            #expect(self.policy.decide(method: method, identity: nil) == .allowPublic(.none))
        }
    }

    @Test func publicMethodsPassWithoutCertificate() {
        #expect(self.policy.decide(method: Guarded.withAPIKey, identity: nil) == .allowPublic(.apiKey))
    }

    @Test func methodRulesBeatServiceRules() {
        var policy = MethodAccessPolicy()
        policy.allow(["forecast"], toCallService: Guarded.service)
        policy.allow(["billing"], toCall: Guarded.forBilling)
        let forecast = TLSIdentity(commonName: "forecast")
        #expect(policy.decide(method: Guarded.undeclared, identity: forecast) == .allowService("forecast"))
        #expect(policy.decide(method: Guarded.forBilling, identity: forecast).deniedCode == .permissionDenied)
        policy.makePublic(service: Guarded.service, authentication: .handler)
        #expect(policy.decide(method: Guarded.undeclared, identity: nil) == .allowPublic(.handler))
    }

    @Test func interceptorBindsTheCallerOverTheInProcessTransport() async throws {
        let router = Router(services: [GuardedService()], interceptors: [IdentityAuthorizationInterceptor(policy: policy)])
        let hostmgr = RPCClient(
            transport: InProcessTransport(
                router: router, peer: PeerInfo(address: "in-process", identity: TLSIdentity(commonName: "hostmgr"))))
        #expect(try await hostmgr.unary(Guarded.forHostmgr, request: Blob(), responseType: Blob.self).message.text
            == "service:hostmgr")
        let denied = await #expect(throws: RPCError.self) {
            _ = try await hostmgr.unary(Guarded.forBilling, request: Blob(), responseType: Blob.self)
        }
        #expect(denied?.code == .permissionDenied)
        let anonymous = RPCClient(transport: InProcessTransport(router: router))
        let unauthenticated = await #expect(throws: RPCError.self) {
            _ = try await anonymous.unary(Guarded.forHostmgr, request: Blob(), responseType: Blob.self)
        }
        #expect(unauthenticated?.code == .unauthenticated)
        #expect(try await anonymous.unary(Guarded.health, request: Blob(), responseType: Blob.self).message.text == "none")
    }
}

extension AccessDecision {
    var deniedCode: Status.Code? {
        if case .deny(let error) = self { return error.code }
        return nil
    }
    var deniedMessage: String? {
        if case .deny(let error) = self { return error.message }
        return nil
    }
}
