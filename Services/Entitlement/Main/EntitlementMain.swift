import EntitlementService
import SkyportService

/// `entitlement`: the developer integration endpoint. Everything lives in the EntitlementService library.
@main
enum EntitlementMain {
    static func main() async {
        await ServiceRunner.main(Entitlement.specification)
    }
}
