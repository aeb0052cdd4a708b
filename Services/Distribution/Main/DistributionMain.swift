import DistributionService
import SkyportService

/// `distribution`: package distribution. Everything lives in the DistributionService library.
@main
enum DistributionMain {
    static func main() async {
        await ServiceRunner.main(Distribution.specification)
    }
}
