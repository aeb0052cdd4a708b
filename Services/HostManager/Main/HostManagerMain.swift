import HostManagerService
import SkyportService

/// `hostmgr`: host management of one data centre. Everything lives in the HostManagerService library.
@main
enum HostManagerMain {
    static func main() async {
        await ServiceRunner.main(HostManager.specification)
    }
}
