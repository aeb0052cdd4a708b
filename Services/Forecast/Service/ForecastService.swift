public import SkyportProto
public import SkyportRPC
import SkyportService

/// `skyport.forecast.v1.Forecast` over a ``ForecastStore``.
public struct ForecastService: Skyport_Forecast_V1_ForecastProvider {
    let store: ForecastStore

    /// A service over `store`.
    public init(store: ForecastStore) {
        self.store = store
    }

    /// Adds observed sessions to their hour's bucket.
    public func recordDemand(
        _ request: Skyport_Forecast_V1_RecordDemandRequest, context: ServerContext
    ) async throws -> Skyport_Forecast_V1_RecordDemandResponse {
        try ServiceSupport.requireText(request.appId, field: "app_id", maxLength: 64)
        try ServiceSupport.requireName(request.region, field: "region")
        let provider = request.networkProvider.isEmpty ? "unknown" : request.networkProvider
        try ServiceSupport.requireText(provider, field: "network_provider", maxLength: 64)
        guard request.observedAtUnixMs > 0 else {
            throw RPCError(code: .invalidArgument, message: "observed_at_unix_ms is required")
        }
        guard (1...1_000_000).contains(request.sessions) else {
            throw RPCError(code: .invalidArgument, message: "sessions must be 1 to 1,000,000")
        }
        let window = try await ServiceSupport.store {
            try await self.store.record(
                appID: request.appId, region: request.region, provider: provider, observedAt: request.observedAtUnixMs,
                sessions: Int64(request.sessions))
        }
        var response = Skyport_Forecast_V1_RecordDemandResponse()
        response.window = Self.message(window)
        return response
    }

    /// The recorded demand of an app in a region, per window.
    public func getDemand(
        _ request: Skyport_Forecast_V1_GetDemandRequest, context: ServerContext
    ) async throws -> Skyport_Forecast_V1_GetDemandResponse {
        try ServiceSupport.requireText(request.appId, field: "app_id", maxLength: 64)
        try ServiceSupport.requireName(request.region, field: "region")
        let windows = try await ServiceSupport.store {
            try await self.store.demand(appID: request.appId, region: request.region)
        }
        var response = Skyport_Forecast_V1_GetDemandResponse()
        response.windows = windows.map(Self.message)
        response.totalSessions = windows.reduce(0) { $0 + UInt64($1.sessions) }
        return response
    }

    /// Not implemented yet: forecasts arrive in a later issue.
    public func getForecast(
        _ request: Skyport_Forecast_V1_GetForecastRequest, context: ServerContext
    ) async throws -> Skyport_Forecast_V1_GetForecastResponse {
        throw ServiceSupport.unimplemented(Skyport_Forecast_V1_ForecastMethods.getForecast)
    }

    static func message(_ window: ForecastStore.Window) -> Skyport_Forecast_V1_DemandWindow {
        var message = Skyport_Forecast_V1_DemandWindow()
        message.windowStartUnixMs = window.startMilliseconds
        message.sessions = UInt64(window.sessions)
        return message
    }
}
