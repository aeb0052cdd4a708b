public import SkyportProto
public import SkyportRPC
import SkyportService
import SkyportStorage

/// `skyport.distribution.v1.Distribution` over a ``DistributionStore``.
public struct DistributionService: Skyport_Distribution_V1_DistributionProvider {
    let store: DistributionStore

    /// A service over `store`.
    public init(store: DistributionStore) {
        self.store = store
    }

    /// Records the package of an app version; ALREADY_EXISTS when the version has one.
    public func registerPackage(
        _ request: Skyport_Distribution_V1_RegisterPackageRequest, context: ServerContext
    ) async throws -> Skyport_Distribution_V1_Package {
        try ServiceSupport.requireText(request.appId, field: "app_id", maxLength: 64)
        try ServiceSupport.requireText(request.version, field: "version", maxLength: 64)
        guard request.sizeBytes >= 1, request.sizeBytes <= UInt64(Int64.max) else {
            throw RPCError(code: .invalidArgument, message: "size_bytes must be at least 1")
        }
        guard request.sha256.utf8.count == 64,
            request.sha256.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            throw RPCError(code: .invalidArgument, message: "sha256 must be 64 lower-case hex digits")
        }
        let package = DistributionStore.Package(
            appID: request.appId, version: request.version, sizeBytes: Int64(request.sizeBytes), sha256: request.sha256,
            registeredAtMilliseconds: ServiceSupport.nowUnixMilliseconds())
        do {
            try await self.store.insert(package)
        } catch StorageError.uniqueViolation {
            throw RPCError(
                code: .alreadyExists, message: "app \(request.appId) version \(request.version) already has a package")
        } catch let error as StorageError {
            throw error.rpcError
        }
        return Self.message(package)
    }

    /// The packages of one app.
    public func listPackages(
        _ request: Skyport_Distribution_V1_ListPackagesRequest, context: ServerContext
    ) async throws -> Skyport_Distribution_V1_ListPackagesResponse {
        try ServiceSupport.requireText(request.appId, field: "app_id", maxLength: 64)
        var response = Skyport_Distribution_V1_ListPackagesResponse()
        response.packages = try await ServiceSupport.store { try await self.store.packages(appID: request.appId) }
            .map(Self.message)
        return response
    }

    /// Not implemented yet: transfers arrive in a later issue.
    public func scheduleTransfer(
        _ request: Skyport_Distribution_V1_ScheduleTransferRequest, context: ServerContext
    ) async throws -> Skyport_Distribution_V1_ScheduleTransferResponse {
        throw ServiceSupport.unimplemented(Skyport_Distribution_V1_DistributionMethods.scheduleTransfer)
    }

    static func message(_ package: DistributionStore.Package) -> Skyport_Distribution_V1_Package {
        var message = Skyport_Distribution_V1_Package()
        message.appId = package.appID
        message.version = package.version
        message.sizeBytes = UInt64(package.sizeBytes)
        message.sha256 = package.sha256
        message.registeredAtUnixMs = package.registeredAtMilliseconds
        return message
    }
}
