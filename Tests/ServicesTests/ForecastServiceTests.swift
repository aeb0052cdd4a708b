import ForecastService
import SkyportProto
import SkyportRPC
import Testing

@Suite("Forecast")
struct ForecastServiceTests {
    typealias Client = Skyport_Forecast_V1_ForecastClient

    static let hour: Int64 = 3_600_000
    /// The start of an hour (2023-11-14T22:00:00Z).
    static let hourStart: Int64 = 1_700_000_000_000 - 1_700_000_000_000 % hour

    static func withForecast(_ backend: ServiceBackend, _ body: (_ operator: Client) async throws -> Void) async throws
    {
        try await backend.withDatabase(migrations: ForecastStore.migrations) { db in
            let server = InProcessServer(
                services: [ForecastService(store: ForecastStore(database: db))], policy: Forecast.accessPolicy)
            try await body(Client(server.client(as: InProcessServer.operatorIdentity)))
        }
    }

    static func sample(
        at time: Int64, sessions: UInt32, app: String = "app-1", region: String = "eu-west",
        provider: String = "vodafone"
    ) -> Skyport_Forecast_V1_RecordDemandRequest {
        var request = Skyport_Forecast_V1_RecordDemandRequest()
        request.appId = app
        request.region = region
        request.networkProvider = provider
        request.observedAtUnixMs = time
        request.sessions = sessions
        return request
    }

    static func window(_ start: Int64, _ sessions: UInt64) -> Skyport_Forecast_V1_DemandWindow {
        var window = Skyport_Forecast_V1_DemandWindow()
        window.windowStartUnixMs = start
        window.sessions = sessions
        return window
    }

    static func demand(
        _ client: Client, app: String = "app-1", region: String = "eu-west"
    ) async throws -> Skyport_Forecast_V1_GetDemandResponse {
        var request = Skyport_Forecast_V1_GetDemandRequest()
        request.appId = app
        request.region = region
        return try await client.getDemand(request)
    }

    @Test("RecordDemand buckets samples by hour", arguments: ServiceBackend.all)
    func bucketsByHour(backend: ServiceBackend) async throws {
        try await Self.withForecast(backend) { forecast in
            let first = try await forecast.recordDemand(Self.sample(at: Self.hourStart + 1_000, sessions: 3))
            #expect(first.window == Self.window(Self.hourStart, 3))
            // The last millisecond of the hour is in the same window; the two samples add up.
            let second = try await forecast.recordDemand(Self.sample(at: Self.hourStart + Self.hour - 1, sessions: 4))
            #expect(second.window == Self.window(Self.hourStart, 7))
            // The next hour starts a new window.
            let next = try await forecast.recordDemand(Self.sample(at: Self.hourStart + Self.hour, sessions: 2))
            #expect(next.window == Self.window(Self.hourStart + Self.hour, 2))

            let demand = try await Self.demand(forecast)
            #expect(demand.windows == [Self.window(Self.hourStart, 7), Self.window(Self.hourStart + Self.hour, 2)])
            #expect(demand.totalSessions == 9)
        }
    }

    @Test("concurrent samples of one window add up exactly", arguments: ServiceBackend.all)
    func concurrentRecordsAddUp(backend: ServiceBackend) async throws {
        try await Self.withForecast(backend) { forecast in
            let totals = try await withThrowingTaskGroup(of: UInt64.self) { group in
                for sessions in UInt32(1)...40 {
                    group.addTask {
                        let sample = Self.sample(at: Self.hourStart + Int64(sessions) * 1_000, sessions: sessions)
                        return try await forecast.recordDemand(sample).window?.sessions ?? 0
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // Each call saw the bucket right after its own addition: 40 distinct running totals.
            #expect(Set(totals).count == 40)
            #expect(totals.max() == 820)
            let demand = try await Self.demand(forecast)
            #expect(demand.windows == [Self.window(Self.hourStart, 820)])
            #expect(demand.totalSessions == 820)
        }
    }

    @Test("GetDemand sums every network provider, and only the app and region asked for", arguments: ServiceBackend.all)
    func demandSumsProviders(backend: ServiceBackend) async throws {
        try await Self.withForecast(backend) { forecast in
            let time = Self.hourStart + 60_000
            let perProvider = try await forecast.recordDemand(Self.sample(at: time, sessions: 5, provider: "vodafone"))
            #expect(perProvider.window?.sessions == 5)
            let other = try await forecast.recordDemand(Self.sample(at: time, sessions: 3, provider: "o2"))
            #expect(other.window?.sessions == 3)  // its own bucket: providers are kept apart
            _ = try await forecast.recordDemand(Self.sample(at: time, sessions: 2, provider: ""))
            _ = try await forecast.recordDemand(Self.sample(at: time, sessions: 100, region: "us-east"))
            _ = try await forecast.recordDemand(Self.sample(at: time, sessions: 50, app: "app-2"))

            let demand = try await Self.demand(forecast)
            #expect(demand.windows == [Self.window(Self.hourStart, 10)])
            #expect(demand.totalSessions == 10)
            #expect(try await Self.demand(forecast, region: "us-east").totalSessions == 100)
            #expect(try await Self.demand(forecast, app: "app-2").totalSessions == 50)
            #expect(try await Self.demand(forecast, app: "app-3").windows.isEmpty)
        }
    }

    @Test("invalid samples are INVALID_ARGUMENT and record nothing", arguments: ServiceBackend.all)
    func invalidSamples(backend: ServiceBackend) async throws {
        try await Self.withForecast(backend) { forecast in
            let time = Self.hourStart
            for sample in [
                Self.sample(at: time, sessions: 0), Self.sample(at: time, sessions: 1_000_001),
                Self.sample(at: 0, sessions: 1), Self.sample(at: -5, sessions: 1),
                Self.sample(at: time, sessions: 1, app: ""),
                Self.sample(at: time, sessions: 1, region: "EU West"), Self.sample(at: time, sessions: 1, region: ""),
            ] {
                await expectStatus(.invalidArgument, "\(sample)") { try await forecast.recordDemand(sample) }
            }
            let demand = try await Self.demand(forecast)
            #expect(demand.windows.isEmpty)
            await expectStatus(.ok) { try await forecast.recordDemand(Self.sample(at: time, sessions: 1_000_000)) }
            await expectStatus(.invalidArgument) { try await Self.demand(forecast, region: "") }
        }
    }

    @Test("GetForecast is UNIMPLEMENTED", arguments: ServiceBackend.all)
    func forecastIsUnimplemented(backend: ServiceBackend) async throws {
        try await Self.withForecast(backend) { forecast in
            var request = Skyport_Forecast_V1_GetForecastRequest()
            request.appId = "app-1"
            request.region = "eu-west"
            await expectStatus(.unimplemented) { try await forecast.getForecast(request) }
        }
    }
}
