import ForecastService
import SkyportService

/// `forecast`: demand forecasting. Everything lives in the ForecastService library.
@main
enum ForecastMain {
    static func main() async {
        await ServiceRunner.main(Forecast.specification)
    }
}
