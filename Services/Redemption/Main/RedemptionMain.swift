import RedemptionService
import SkyportService

/// `redemption`: the token-redemption node. Everything lives in the RedemptionService library.
@main
enum RedemptionMain {
    static func main() async {
        await ServiceRunner.main(Redemption.specification)
    }
}
