@testable import BillingService
import SkyportProto
import SkyportRPC
import SkyportStorage
import Testing

@Suite("Billing")
struct BillingServiceTests {
    typealias Client = Skyport_Billing_V1_BillingClient

    /// Runs `body` with a billing service on a fresh database, and a client for each identity.
    static func withBilling(
        _ backend: ServiceBackend, _ body: (_ operator: Client, _ server: InProcessServer) async throws -> Void
    ) async throws {
        try await backend.withDatabase(migrations: BillingStore.migrations) { db in
            let server = InProcessServer(
                services: [BillingService(store: BillingStore(database: db))], policy: Billing.accessPolicy)
            try await body(Client(server.client(as: InProcessServer.operatorIdentity)), server)
        }
    }

    static func event(
        key: String, developer: String = "dev_a", kind: Skyport_Billing_V1_UsageKind = .sessionSeconds,
        quantity: UInt64 = 60, at time: Int64 = 1_700_000_000_000
    ) -> Skyport_Billing_V1_IngestUsageRequest {
        var request = Skyport_Billing_V1_IngestUsageRequest()
        request.idempotencyKey = key
        request.developerId = developer
        request.appId = "app-1"
        request.kind = kind
        request.quantity = quantity
        request.occurredAtUnixMs = time
        return request
    }

    static func usage(_ client: Client, developer: String = "dev_a") async throws -> [Skyport_Billing_V1_UsageTotal] {
        var request = Skyport_Billing_V1_GetUsageRequest()
        request.developerId = developer
        return try await client.getUsage(request).totals
    }

    static func total(
        _ kind: Skyport_Billing_V1_UsageKind, quantity: UInt64, events: UInt64
    ) -> Skyport_Billing_V1_UsageTotal {
        var total = Skyport_Billing_V1_UsageTotal()
        total.kind = kind
        total.quantity = quantity
        total.events = events
        return total
    }

    @Test(
        "an event is stored once; repeating its key with the same event is a duplicate", arguments: ServiceBackend.all)
    func ingestThenDuplicate(backend: ServiceBackend) async throws {
        try await Self.withBilling(backend) { billing, _ in
            let first = try await billing.ingestUsage(Self.event(key: "k-1"))
            #expect(first.eventId.hasPrefix("use_"))
            #expect(!first.duplicate)

            let again = try await billing.ingestUsage(Self.event(key: "k-1"))
            #expect(again.duplicate)
            #expect(again.eventId == first.eventId)
            #expect(try await Self.usage(billing) == [Self.total(.sessionSeconds, quantity: 60, events: 1)])
        }
    }

    @Test("the same key with a different event is ALREADY_EXISTS and changes nothing", arguments: ServiceBackend.all)
    func sameKeyOtherEvent(backend: ServiceBackend) async throws {
        try await Self.withBilling(backend) { billing, _ in
            _ = try await billing.ingestUsage(Self.event(key: "k-1", quantity: 60))
            await expectStatus(.alreadyExists) { try await billing.ingestUsage(Self.event(key: "k-1", quantity: 61)) }
            await expectStatus(.alreadyExists) {
                try await billing.ingestUsage(Self.event(key: "k-1", kind: .bandwidthBytes))
            }
            await expectStatus(.alreadyExists) {
                try await billing.ingestUsage(Self.event(key: "k-1", developer: "dev_b"))
            }
            #expect(try await Self.usage(billing) == [Self.total(.sessionSeconds, quantity: 60, events: 1)])
            #expect(try await Self.usage(billing, developer: "dev_b").isEmpty)
        }
    }

    @Test("50 concurrent ingests of one key store it exactly once", arguments: ServiceBackend.all)
    func concurrentIngestOfOneKey(backend: ServiceBackend) async throws {
        try await Self.withBilling(backend) { billing, _ in
            let responses = try await withThrowingTaskGroup(of: Skyport_Billing_V1_IngestUsageResponse.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await billing.ingestUsage(Self.event(key: "race", quantity: 7)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(responses.count == 50)
            #expect(responses.filter { !$0.duplicate }.count == 1)
            #expect(Set(responses.map(\.eventId)).count == 1)
            #expect(try await Self.usage(billing) == [Self.total(.sessionSeconds, quantity: 7, events: 1)])
        }
    }

    @Test("GetUsage sums each kind of one developer, ordered by kind", arguments: ServiceBackend.all)
    func usageSumsPerKind(backend: ServiceBackend) async throws {
        try await Self.withBilling(backend) { billing, _ in
            _ = try await billing.ingestUsage(Self.event(key: "a", kind: .bandwidthBytes, quantity: 1_000_000))
            _ = try await billing.ingestUsage(Self.event(key: "b", kind: .sessionSeconds, quantity: 10))
            _ = try await billing.ingestUsage(Self.event(key: "c", kind: .sessionSeconds, quantity: 5))
            _ = try await billing.ingestUsage(Self.event(key: "d", kind: .bufferSeconds, quantity: 3))
            // Large quantities survive the round trip (SUM of BIGINT is NUMERIC on PostgreSQL).
            _ = try await billing.ingestUsage(Self.event(key: "e", kind: .bandwidthBytes, quantity: 1 << 40))
            _ = try await billing.ingestUsage(Self.event(key: "f", developer: "dev_b", quantity: 999))

            #expect(
                try await Self.usage(billing) == [
                    Self.total(.sessionSeconds, quantity: 15, events: 2),
                    Self.total(.bandwidthBytes, quantity: 1_000_000 + (1 << 40), events: 2),
                    Self.total(.bufferSeconds, quantity: 3, events: 1),
                ])
            #expect(
                try await Self.usage(billing, developer: "dev_b") == [
                    Self.total(.sessionSeconds, quantity: 999, events: 1)
                ])
            #expect(try await Self.usage(billing, developer: "dev_nobody").isEmpty)
        }
    }

    @Test("totals stay exact beyond 2^53 (bandwidth in bytes adds up)", arguments: ServiceBackend.all)
    func largeTotalsAreExact(backend: ServiceBackend) async throws {
        // Through the store: the service caps one event at 2^40, so 2^53 takes many events that way.
        try await backend.withDatabase(migrations: BillingStore.migrations) { db in
            let store = BillingStore(database: db)
            let big: Int64 = (1 << 60) + 1
            for (key, quantity) in [("a", big), ("b", 2)] {
                _ = try await store.ingest(
                    BillingStore.Event(
                        eventID: key, idempotencyKey: key, developerID: "dev_a", appID: "app-1", kind: 2,
                        quantity: quantity, occurredAtMilliseconds: 1),
                    now: 1)
            }
            // PostgreSQL's SUM(BIGINT) is NUMERIC: it must come back as an exact integer, not a Double.
            #expect(
                try await store.totals(developerID: "dev_a")
                    == [BillingStore.Total(kind: 2, quantity: big + 2, events: 2)])
        }
    }

    @Test("invalid events are INVALID_ARGUMENT and store nothing", arguments: ServiceBackend.all)
    func invalidEvents(backend: ServiceBackend) async throws {
        try await Self.withBilling(backend) { billing, _ in
            var invalid: [Skyport_Billing_V1_IngestUsageRequest] = [
                Self.event(key: ""),
                Self.event(key: "has space"),
                Self.event(key: String(repeating: "k", count: 129)),
                Self.event(key: "k", kind: .unspecified),
                Self.event(key: "k", kind: .unrecognized(42)),
                Self.event(key: "k", quantity: 0),
                Self.event(key: "k", quantity: UInt64(Int64.max) + 1),
                Self.event(key: "k", quantity: (1 << 40) + 1),
                Self.event(key: "k", at: 0),
                Self.event(key: "k", developer: ""),
            ]
            var noApp = Self.event(key: "k")
            noApp.appId = ""
            invalid.append(noApp)
            for request in invalid {
                await expectStatus(.invalidArgument, "\(request.idempotencyKey) \(request.kind) \(request.quantity)") {
                    try await billing.ingestUsage(request)
                }
            }
            let totals = try await Self.usage(billing)
            #expect(totals.isEmpty)
            // The longest key allowed is accepted.
            await expectStatus(.ok) {
                try await billing.ingestUsage(Self.event(key: String(repeating: "k", count: 128)))
            }

            var noDeveloper = Skyport_Billing_V1_GetUsageRequest()
            noDeveloper.developerId = ""
            await expectStatus(.invalidArgument) { try await billing.getUsage(noDeveloper) }
        }
    }

    @Test("GetInvoice is UNIMPLEMENTED", arguments: ServiceBackend.all)
    func invoiceIsUnimplemented(backend: ServiceBackend) async throws {
        try await Self.withBilling(backend) { billing, _ in
            var request = Skyport_Billing_V1_GetInvoiceRequest()
            request.developerId = "dev_a"
            await expectStatus(.unimplemented) { try await billing.getInvoice(request) }
        }
    }

    @Test("an ingest refused by the access policy stores nothing", arguments: ServiceBackend.all)
    func deniedIngestStoresNothing(backend: ServiceBackend) async throws {
        try await Self.withBilling(backend) { billing, server in
            let forecast = Client(server.client(as: "forecast"))
            await expectStatus(.permissionDenied) { try await forecast.ingestUsage(Self.event(key: "k")) }
            let anonymous = Client(server.client(as: nil))
            await expectStatus(.unauthenticated) { try await anonymous.ingestUsage(Self.event(key: "k")) }
            let totals = try await Self.usage(billing)
            #expect(totals.isEmpty)

            let streamhost = Client(server.client(as: "streamhost"))
            let stored = try await streamhost.ingestUsage(Self.event(key: "k"))
            #expect(!stored.duplicate)
            await expectStatus(.permissionDenied) { try await Self.usage(streamhost) }
        }
    }
}
