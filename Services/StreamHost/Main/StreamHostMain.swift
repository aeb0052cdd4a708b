import StreamHostService
import SkyportService

/// `streamhost`: the stream host of one machine. Everything lives in the StreamHostService library.
@main
enum StreamHostMain {
    static func main() async {
        await ServiceRunner.main(StreamHost.specification)
    }
}
