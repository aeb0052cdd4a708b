public import SkyportService
import SkyportProto
public import SkyportSecurity

/// The billing / metering service: ingests usage events exactly once (idempotency keys) and answers
/// usage totals. Rating and invoices arrive in a later issue (`GetInvoice` is UNIMPLEMENTED).
public enum Billing {
    /// How `billing` runs: port 7106, metrics 9106, its store and access rules.
    public static let specification = ServiceSpecification(
        name: "billing", defaultPort: 7106, defaultMetricsPort: 9106, migrations: BillingStore.migrations,
        accessPolicy: Self.accessPolicy
    ) { context in
        ServiceParts(rpcServices: [BillingService(store: BillingStore(database: context.database))])
    }

    /// Who may call what: usage comes from host management and stream hosts; totals and invoices are
    /// read by entitlement (for developers); the operator's tool may do everything.
    public static var accessPolicy: MethodAccessPolicy {
        var policy = MethodAccessPolicy()
        policy.allow(["hostmgr", "streamhost", "skyport"], toCall: Skyport_Billing_V1_BillingMethods.ingestUsage)
        policy.allow(["entitlement", "skyport"], toCall: Skyport_Billing_V1_BillingMethods.getUsage)
        policy.allow(["entitlement", "skyport"], toCall: Skyport_Billing_V1_BillingMethods.getInvoice)
        return policy
    }
}
