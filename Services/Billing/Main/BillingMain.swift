import BillingService
import SkyportService

/// `billing`: usage metering and invoices. Everything lives in the BillingService library.
@main
enum BillingMain {
    static func main() async {
        await ServiceRunner.main(Billing.specification)
    }
}
