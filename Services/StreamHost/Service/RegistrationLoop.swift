import Logging
import ServiceLifecycle
import SkyportConfig
import SkyportProto
import SkyportRPC
import SkyportService

/// Keeps the host known to its host management: registers once the host serves (with the installed
/// packages, rescanned every time) and again every `registerInterval`; after the first registration,
/// heartbeats every interval host management asks for (`heartbeat_interval_ms` of RegisterHost and
/// Heartbeat; `heartbeatFallback` while it names none, never below 1 s) with a report per instance.
/// Failed registrations are retried with exponential back-off (250 ms doubling to 10 s); a heartbeat
/// refused with NOT_FOUND (host management forgot the host) registers again at once. Stops on graceful
/// shutdown.
struct RegistrationLoop: Service {
    let store: StreamHostStore
    let hostmgr: Skyport_Hostmgr_V1_HostManagerClient
    let capacity: Capacity
    let packages: PackageCatalog
    let runtime: SessionRuntime
    let advertiseAddress: HostAndPort
    let interval: Duration
    let heartbeatFallback: Duration
    let logger: Logger

    func run() async throws {
        let clock = ContinuousClock()
        var backoff = Duration.milliseconds(250)
        var registered = false
        var heartbeatInterval = self.heartbeatFallback
        var nextRegistration = clock.now
        var nextHeartbeat: ContinuousClock.Instant? = nil
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let wake = min(nextRegistration, nextHeartbeat ?? nextRegistration)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(until: wake, clock: clock) }
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { return }
            if clock.now >= nextRegistration {
                do {
                    let host = try await self.register()
                    heartbeatInterval = self.heartbeatInterval(host.heartbeatIntervalMs)
                    if !registered {
                        self.logger.info(
                            "registered with host management",
                            metadata: ["host_id": "\(host.hostID)", "datacentre": "\(host.datacentre)"])
                        registered = true
                    }
                    backoff = .milliseconds(250)
                    nextRegistration = clock.now + self.interval
                    nextHeartbeat = nextHeartbeat ?? clock.now + heartbeatInterval
                } catch {
                    self.logger.warning(
                        "registration with host management failed",
                        metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                    registered = false
                    nextRegistration = clock.now + backoff
                    backoff = min(backoff * 2, .seconds(10))
                }
            }
            if let due = nextHeartbeat, clock.now >= due {
                do {
                    heartbeatInterval = self.heartbeatInterval(try await self.heartbeat())
                } catch let error as RPCError where error.status.code == .notFound {
                    self.logger.warning("host management does not know this host: registering again")
                    nextRegistration = clock.now
                } catch {
                    self.logger.warning("heartbeat to host management failed", metadata: ["error": "\(error)"])
                }
                nextHeartbeat = clock.now + heartbeatInterval
            }
        }
    }

    private func register() async throws -> (hostID: String, datacentre: String, heartbeatIntervalMs: UInt32) {
        let identity = try await self.store.identity()
        var request = Skyport_Hostmgr_V1_RegisterHostRequest()
        request.hostId = identity.hostID
        request.address = self.advertiseAddress.configText
        request.datacentre = self.capacity.datacentre
        request.slots = UInt32(self.capacity.slots)
        request.cpuUnits = UInt32(self.capacity.cpuUnits)
        request.memoryMib = UInt64(self.capacity.memoryMiB)
        request.gpuScore = UInt32(self.capacity.gpuScore)
        request.packages = self.packages.installed().map { package in
            var installed = Skyport_Hostmgr_V1_InstalledPackage()
            installed.appId = package.appID
            installed.versionId = package.versionID
            return installed
        }
        let host = try await self.hostmgr.registerHost(request, options: CallOptions(timeout: .seconds(5)))
        try await self.store.recordRegistration(at: host.lastSeenUnixMs)
        return (identity.hostID, host.datacentre, host.heartbeatIntervalMs)
    }

    /// Sends one heartbeat; returns the interval host management asks for.
    private func heartbeat() async throws -> UInt32 {
        var request = Skyport_Hostmgr_V1_HeartbeatRequest()
        request.hostId = try await self.store.identity().hostID
        request.instances = await self.runtime.instanceReports()
        request.sentAtUnixMs = ServiceSupport.nowUnixMilliseconds()
        return try await self.hostmgr.heartbeat(request, options: CallOptions(timeout: .seconds(5))).intervalMs
    }

    private func heartbeatInterval(_ milliseconds: UInt32) -> Duration {
        max(milliseconds == 0 ? self.heartbeatFallback : .milliseconds(Int64(milliseconds)), .seconds(1))
    }
}
