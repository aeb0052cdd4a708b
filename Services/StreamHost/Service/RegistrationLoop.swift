import Logging
import ServiceLifecycle
import SkyportConfig
import SkyportProto
import SkyportRPC
import SkyportService

/// Registers the host with its host management once the host serves, then again every `interval`;
/// failures are retried with exponential back-off (250 ms doubling to 10 s) and logged. Stops on
/// graceful shutdown.
struct RegistrationLoop: Service {
    let store: StreamHostStore
    let hostmgr: Skyport_Hostmgr_V1_HostManagerClient
    let capacity: Capacity
    let advertiseAddress: HostAndPort
    let interval: Duration
    let logger: Logger

    func run() async throws {
        var backoff = Duration.milliseconds(250)
        var registered = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let wait: Duration
            do {
                let identity = try await self.store.identity()
                var request = Skyport_Hostmgr_V1_RegisterHostRequest()
                request.hostId = identity.hostID
                request.address = self.advertiseAddress.configText
                request.datacentre = self.capacity.datacentre
                request.slots = UInt32(self.capacity.slots)
                request.cpuUnits = UInt32(self.capacity.cpuUnits)
                request.memoryMib = UInt64(self.capacity.memoryMiB)
                request.gpuScore = UInt32(self.capacity.gpuScore)
                let host = try await self.hostmgr.registerHost(request, options: CallOptions(timeout: .seconds(5)))
                try await self.store.recordRegistration(at: host.lastSeenUnixMs)
                if !registered {
                    self.logger.info(
                        "registered with host management",
                        metadata: ["host_id": "\(identity.hostID)", "datacentre": "\(host.datacentre)"])
                    registered = true
                }
                backoff = .milliseconds(250)
                wait = self.interval
            } catch {
                self.logger.warning(
                    "registration with host management failed",
                    metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                registered = false
                wait = backoff
                backoff = min(backoff * 2, .seconds(10))
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
    }
}
