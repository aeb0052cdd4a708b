public import SkyportProto
public import SkyportRPC
import SkyportService

/// `skyport.billing.v1.Billing` over a ``BillingStore``.
public struct BillingService: Skyport_Billing_V1_BillingProvider {
    let store: BillingStore

    /// A service over `store`.
    public init(store: BillingStore) {
        self.store = store
    }

    /// Stores one usage event exactly once per idempotency key.
    public func ingestUsage(
        _ request: Skyport_Billing_V1_IngestUsageRequest, context: ServerContext
    ) async throws -> Skyport_Billing_V1_IngestUsageResponse {
        try ServiceSupport.requireText(request.idempotencyKey, field: "idempotency_key", maxLength: 128)
        guard request.idempotencyKey.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw RPCError(code: .invalidArgument, message: "idempotency_key must be printable ASCII without spaces")
        }
        try ServiceSupport.requireText(request.developerId, field: "developer_id", maxLength: 64)
        try ServiceSupport.requireText(request.appId, field: "app_id", maxLength: 64)
        switch request.kind {
        case .sessionSeconds, .bandwidthBytes, .bufferSeconds: break
        case .unspecified, .unrecognized:
            throw RPCError(code: .invalidArgument, message: "kind must be a known UsageKind")
        }
        // Bounded so that the per-developer totals (SUM over BIGINT) stay far from overflowing.
        guard (1...(1 << 40)).contains(request.quantity) else {
            throw RPCError(code: .invalidArgument, message: "quantity must be 1 to 2^40")
        }
        guard request.occurredAtUnixMs > 0 else {
            throw RPCError(code: .invalidArgument, message: "occurred_at_unix_ms is required")
        }
        let event = BillingStore.Event(
            eventID: ServiceSupport.newIdentifier(prefix: "use"), idempotencyKey: request.idempotencyKey,
            developerID: request.developerId, appID: request.appId, kind: Int64(request.kind.rawValue),
            quantity: Int64(request.quantity), occurredAtMilliseconds: request.occurredAtUnixMs)
        let outcome = try await ServiceSupport.store {
            try await self.store.ingest(event, now: ServiceSupport.nowUnixMilliseconds())
        }
        var response = Skyport_Billing_V1_IngestUsageResponse()
        switch outcome {
        case .stored(let eventID):
            response.eventId = eventID
        case .duplicate(let eventID):
            response.eventId = eventID
            response.duplicate = true
        case .conflict:
            throw RPCError(
                code: .alreadyExists,
                message: "idempotency_key \(request.idempotencyKey) was used for a different usage event")
        }
        return response
    }

    /// The developer's usage totals per kind.
    public func getUsage(
        _ request: Skyport_Billing_V1_GetUsageRequest, context: ServerContext
    ) async throws -> Skyport_Billing_V1_GetUsageResponse {
        try ServiceSupport.requireText(request.developerId, field: "developer_id", maxLength: 64)
        let totals = try await ServiceSupport.store { try await self.store.totals(developerID: request.developerId) }
        var response = Skyport_Billing_V1_GetUsageResponse()
        response.totals = totals.map { total in
            var message = Skyport_Billing_V1_UsageTotal()
            message.kind = Skyport_Billing_V1_UsageKind(rawValue: Int32(clamping: total.kind))
            message.quantity = UInt64(total.quantity)
            message.events = UInt64(total.events)
            return message
        }
        return response
    }

    /// Not implemented yet: rating and invoices arrive in a later issue.
    public func getInvoice(
        _ request: Skyport_Billing_V1_GetInvoiceRequest, context: ServerContext
    ) async throws -> Skyport_Billing_V1_GetInvoiceResponse {
        throw ServiceSupport.unimplemented(Skyport_Billing_V1_BillingMethods.getInvoice)
    }
}
