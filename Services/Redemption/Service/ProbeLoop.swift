import Logging
import ServiceLifecycle
import SkyportProto
import SkyportRPC
import SkyportService

/// Probes every data centre's host management (`GetCapacity`, 1 s timeout) once the node serves, then
/// every `interval`: up or down, the round trip and the spare slots go to the directory. Each
/// cycle first refreshes the directory's rows from the store. Stops on graceful shutdown.
struct ProbeLoop: Service {
    let store: RedemptionStore
    let directory: DataCentreDirectory
    let connector: any HostManagerConnector
    let interval: Duration
    let logger: Logger

    /// How long one probe may take.
    static let timeout: Duration = .seconds(1)

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await self.probeAll()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }

    /// One cycle: refresh the rows, then probe every data centre concurrently.
    func probeAll() async {
        do {
            self.directory.replaceRows(try await self.store.all())
        } catch {
            self.logger.warning(
                "data centres could not be read; probing the cached ones", metadata: ["error": "\(error)"])
        }
        await withTaskGroup(of: Void.self) { group in
            for status in self.directory.statuses() {
                group.addTask { await self.probe(status.datacentre) }
            }
        }
    }

    private func probe(_ datacentre: RedemptionStore.DataCentre) async {
        let wasUp = self.directory.statuses().first { $0.id == datacentre.id }?.probe.up ?? false
        await self.probeOnce(datacentre)
        // A first probe (or the first after being down) pays for the connection's TCP and TLS set-up: a
        // second one at once measures the path itself, so routing does not start from a handshake.
        if !wasUp, self.directory.statuses().first(where: { $0.id == datacentre.id })?.probe.up == true {
            await self.probeOnce(datacentre, replacingLast: true)
        }
    }

    private func probeOnce(_ datacentre: RedemptionStore.DataCentre, replacingLast: Bool = false) async {
        let clock = ContinuousClock()
        let start = clock.now
        let outcome: Result<(free: UInt32, total: UInt32), ProbeFailure>
        // The failure's full text is for the operator's log only; the down reason (which route
        // explanations quote) keeps to the status code.
        var detail = ""
        do {
            let summary = try await self.connector.hostManager(at: datacentre.hostmgrAddress).getCapacity(
                .init(), options: CallOptions(timeout: Self.timeout))
            outcome = .success((summary.freeSlots, summary.totalSlots))
        } catch let error as RPCError {
            outcome = .failure(ProbeFailure(summary: "\(error.code)"))
            detail = error.message
        } catch {
            outcome = .failure(ProbeFailure(summary: "\(error)"))
            detail = "\(error)"
        }
        guard
            let change = self.directory.recordProbe(
                datacentre.id, address: datacentre.hostmgrAddress, outcome: outcome, roundTrip: clock.now - start,
                at: ServiceSupport.nowUnixMilliseconds(), replacingLast: replacingLast)
        else { return }
        let metadata: Logger.Metadata = [
            "datacentre": "\(datacentre.id)", "hostmgr": "\(datacentre.hostmgrAddress)",
        ]
        // Log changes only (and a first probe that failed), not every probe.
        let firstProbe = change.before.probedAtMilliseconds == nil
        if change.after.up, !change.before.up {
            self.logger.info(
                "data centre is up", metadata: metadata.merging(["free_slots": "\(change.after.freeSlots)"]) { $1 })
        } else if !change.after.up, change.before.up || firstProbe {
            self.logger.warning(
                "data centre is down",
                metadata: metadata.merging(["reason": "\(change.after.downReason ?? "")", "error": "\(detail)"]) { $1 }
            )
        }
    }
}
