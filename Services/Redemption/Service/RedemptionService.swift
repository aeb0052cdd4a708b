public import SkyportProto
public import SkyportRPC
import SkyportService

/// `skyport.redemption.v1.Redemption` over a ``RedemptionStore``.
public struct RedemptionService: Skyport_Redemption_V1_RedemptionProvider {
    let store: RedemptionStore

    /// A service over `store`.
    public init(store: RedemptionStore) {
        self.store = store
    }

    /// Not implemented yet: token redemption arrives with the sessions issue.
    public func redeem(
        _ request: Skyport_Redemption_V1_RedeemRequest, context: ServerContext
    ) async throws -> Skyport_Redemption_V1_RedeemResponse {
        throw ServiceSupport.unimplemented(Skyport_Redemption_V1_RedemptionMethods.redeem)
    }

    /// Adds or replaces a data centre after checking its fields.
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
        return Self.message(datacentre)
    }

    /// Every known data centre.
    public func listDataCentres(
        _ request: Skyport_Redemption_V1_ListDataCentresRequest, context: ServerContext
    ) async throws -> Skyport_Redemption_V1_ListDataCentresResponse {
        var response = Skyport_Redemption_V1_ListDataCentresResponse()
        response.datacentres = try await ServiceSupport.store { try await self.store.all() }.map(Self.message)
        return response
    }

    static func message(_ datacentre: RedemptionStore.DataCentre) -> Skyport_Redemption_V1_DataCentre {
        var message = Skyport_Redemption_V1_DataCentre()
        message.datacentreId = datacentre.id
        message.hostmgrAddress = datacentre.hostmgrAddress
        message.latitude = datacentre.latitude
        message.longitude = datacentre.longitude
        message.region = datacentre.region
        message.updatedAtUnixMs = datacentre.updatedAtMilliseconds
        return message
    }
    public func explainRoute(_ request: Skyport_Redemption_V1_ExplainRouteRequest, context: ServerContext) async throws -> Skyport_Redemption_V1_RouteDecision {
        throw ServiceSupport.unimplemented(Skyport_Redemption_V1_RedemptionMethods.explainRoute)
    }

}
