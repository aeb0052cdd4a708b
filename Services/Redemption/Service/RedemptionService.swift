import Logging
public import SkyportProto
public import SkyportRPC
import SkyportService
import SkyportInterop

/// `skyport.redemption.v1.Redemption`: redeems session tokens (verified locally with the home data
/// centre's published keys, then forwarded to the best data centre's host management) and keeps the
/// data centres it routes to, with their probe state.
public struct RedemptionService: Skyport_Redemption_V1_RedemptionProvider {
    let store: RedemptionStore
    let directory: DataCentreDirectory
    let prefixTable: PrefixTable
    let trustedProxies: TrustedProxies
    let connector: any HostManagerConnector
    let verifiers: HomeTokenVerifiers
    let metrics: RouteMetrics
    let logger: Logger

    /// How long a forwarded redemption may take: longer than host management's slowest placement (a
    /// launch waits up to 15 s for the application, a peer placement up to 20 s).
    static let forwardTimeout: Duration = .seconds(25)
    /// The longest token accepted, as bytes or as text.
    static let maximumTokenBytes = 4096

    init(
        store: RedemptionStore, directory: DataCentreDirectory, prefixTable: PrefixTable,
        trustedProxies: TrustedProxies, connector: any HostManagerConnector, metrics: RouteMetrics, logger: Logger
    ) {
        self.store = store
        self.directory = directory
        self.prefixTable = prefixTable
        self.trustedProxies = trustedProxies
        self.connector = connector
        self.verifiers = HomeTokenVerifiers(directory: directory, connector: connector)
        self.metrics = metrics
        self.logger = logger
    }

    /// Adds or replaces a data centre after checking its fields; routing uses it at once (probe state
    /// follows at the next probe cycle).
    public func upsertDataCentre(
        _ request: Skyport_Redemption_V1_DataCentre, context: ServerContext
    ) async throws -> Skyport_Redemption_V1_DataCentre {
        try ServiceSupport.requireName(request.datacentreId, field: "datacentre_id")
        try ServiceSupport.requireAddress(request.hostmgrAddress, field: "hostmgr_address")
        guard (-90...90).contains(request.latitude), (-180...180).contains(request.longitude) else {
            throw RPCError(
                code: .invalidArgument, message: "latitude must be in [-90, 90] and longitude in [-180, 180]")
        }
        try ServiceSupport.requireText(request.region, field: "region", maxLength: 64)
        let datacentre = RedemptionStore.DataCentre(
            id: request.datacentreId, hostmgrAddress: request.hostmgrAddress, latitude: request.latitude,
            longitude: request.longitude, region: request.region,
            updatedAtMilliseconds: ServiceSupport.nowUnixMilliseconds())
        try await ServiceSupport.store { try await self.store.upsert(datacentre) }
        self.directory.upsert(datacentre)
        return Self.message(datacentre, probe: ProbeState())
    }

    /// Every known data centre with its probe state.
    public func listDataCentres(
        _ request: Skyport_Redemption_V1_ListDataCentresRequest, context: ServerContext
    ) async throws -> Skyport_Redemption_V1_ListDataCentresResponse {
        let rows = try await ServiceSupport.store { try await self.store.all() }
        let probes = Dictionary(self.directory.statuses().map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        var response = Skyport_Redemption_V1_ListDataCentresResponse()
        response.datacentres = rows.map { row in
            // A probe state for another address (the row changed since) does not describe this row.
            let probe = probes[row.id].flatMap { $0.datacentre.hostmgrAddress == row.hostmgrAddress ? $0.probe : nil }
            return Self.message(row, probe: probe ?? ProbeState())
        }
        return response
    }

    /// How the node would rank the data centres for `client_address` now, without redeeming.
    public func explainRoute(
        _ request: Skyport_Redemption_V1_ExplainRouteRequest, context: ServerContext
    ) async throws -> Skyport_Redemption_V1_RouteDecision {
        guard IPAddress.isAddress(request.clientAddress) else {
            throw RPCError(code: .invalidArgument, message: "client_address must be an IPv4 or IPv6 address")
        }
        let decision = self.route(for: request.clientAddress)
        var message = Self.message(decision)
        // What a redemption would try first, so the explanation and the redemption agree.
        message.reason = decision.toTry.first.map { RouteRanker.reason(for: $0, in: decision) } ?? Self.noDatacentre
        return message
    }

    /// The ranking for a client at `address` (`nil` or unknown to the prefix table: not located).
    func route(for address: String?) -> RouteRanker.Decision {
        RouteRanker().rank(
            client: address.flatMap { self.prefixTable.locate($0) }, datacentres: self.directory.statuses())
    }

    /// What UNAVAILABLE says when no data centre can take a session.
    static let noDatacentre = "no data centre can take the session now"

    static func message(
        _ datacentre: RedemptionStore.DataCentre, probe: ProbeState
    ) -> Skyport_Redemption_V1_DataCentre {
        var message = Skyport_Redemption_V1_DataCentre()
        message.datacentreId = datacentre.id
        message.hostmgrAddress = datacentre.hostmgrAddress
        message.latitude = datacentre.latitude
        message.longitude = datacentre.longitude
        message.region = datacentre.region
        message.updatedAtUnixMs = datacentre.updatedAtMilliseconds
        message.up = probe.up
        message.latencyMs = probe.latencyMilliseconds ?? 0
        message.freeSlots = probe.freeSlots
        message.totalSlots = probe.totalSlots
        message.probedAtUnixMs = probe.probedAtMilliseconds ?? 0
        return message
    }

    static func message(_ decision: RouteRanker.Decision) -> Skyport_Redemption_V1_RouteDecision {
        var message = Skyport_Redemption_V1_RouteDecision()
        if let client = decision.client {
            message.clientLocated = true
            message.clientRegion = client.region
            message.networkProvider = client.networkProvider
            message.clientLatitude = client.latitude
            message.clientLongitude = client.longitude
        }
        message.candidates = decision.candidates.map { candidate in
            var entry = Skyport_Redemption_V1_RouteCandidate()
            entry.datacentreId = candidate.id
            entry.score = candidate.skip == nil ? candidate.score : 0
            entry.distanceKm = candidate.distanceKilometres ?? 0
            entry.latencyMs = candidate.latencyMilliseconds
            entry.freeSlots = candidate.freeSlots
            entry.skippedBecause = candidate.skip?.text ?? ""
            return entry
        }
        return message
    }
}
