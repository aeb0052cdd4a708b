import Foundation
import Logging
import ServiceLifecycle
import SkyportHTTP2
import SkyportInterop
import SkyportProto
import SkyportRPC
import SkyportService
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The instances this host runs and the sessions on them: launches applications from their packages,
/// speaks the application contract with them, accounts for resources, provisions sessions and connects
/// their clients, and stops instances (drain, terminate, host shutdown).
///
/// All state lives in this actor. Timers, message pumps and process watchers are jobs of ``run()``'s
/// task group, so they end with the runtime; no task outlives it. On graceful shutdown every instance
/// gets a termination notice and ``Settings/stopGrace``, then SIGTERM, then SIGKILL; ``run()`` returns
/// once every child has been reaped.
actor SessionRuntime: Service {
    /// How the runtime behaves; the defaults are the application contract's.
    struct Settings: Sendable {
        var capacity: Capacity
        var packages: PackageCatalog
        /// Absolute: instance directories go under `<data-dir>/instances`, host sockets under
        /// `<data-dir>/run`.
        var dataDirectory: String
        /// How long a launched application has to connect and send `ready`.
        var launchTimeout: Duration = .seconds(10)
        /// How long a detached session waits for the application's `state_saved`.
        var stateWait: Duration = .seconds(5)
        /// The grace an instance gets when the host shuts down or a drained instance stops.
        var stopGrace: Duration = .seconds(5)
        /// Between SIGTERM and SIGKILL.
        var killGrace: Duration = .seconds(2)
    }

    /// The contract's limit on a session's saved state.
    static let maximumStateBytes = 1024 * 1024

    enum InstancePhase: Equatable {
        case starting
        case running
        case draining
        case stopping(deadlineUnixMilliseconds: Int64)
    }

    struct InstanceRecord {
        let id: String
        let appID: String
        let versionID: String
        let seats: Int
        let cpuUnits: Int
        let memoryMiB: Int
        let process: ChildProcess
        let channel: AppChannel
        let directory: String
        let startedAt: Int64
        var phase = InstancePhase.starting
        /// Its sessions (a set: a busy multi-tenant instance holds thousands, and one ends at a time).
        var sessionIDs: Set<String> = []
        /// Sessions waiting for this starting instance to be ready, each holding one of its seats.
        var promisedSeats = 0
        /// Seats no session has and none is promised.
        var openSeats: Int { self.seats - self.sessionIDs.count - self.promisedSeats }
        var readyWaiters: [CheckedContinuation<Void, any Error>] = []
        /// INSTANCE_STARTED was recorded (only then is INSTANCE_ENDED).
        var started = false
        /// Why the host stops it; its sessions end with this reason.
        var stopReason: String?

        /// The state reported to host management and ListInstances.
        var stateText: String {
            switch self.phase {
            case .starting: "starting"
            case .running: self.sessionIDs.isEmpty ? "idle" : "active"
            case .draining: "draining"
            case .stopping: "stopping"
            }
        }
    }

    enum SessionPhase: Equatable {
        case provisioned
        case connected
        case detaching(reason: String)
    }

    struct SessionRecord {
        let id: String
        let instanceID: String
        let appID: String
        let versionID: String
        let credentialHash: [UInt8]
        let connectBy: Int64
        let resumedState: Bool
        let feed: ClientFeed
        var phase = SessionPhase.provisioned
        var savedState: [UInt8]?
        var droppedOutputs = 0
    }

    /// Free resources now.
    struct Free: Sendable, Hashable {
        var slots: Int
        var cpuUnits: Int
        var memoryMiB: Int
    }

    let settings: Settings
    let store: StreamHostStore
    let outbox: EventOutbox
    let logger: Logger
    var instances: [String: InstanceRecord] = [:]
    var sessions: [String: SessionRecord] = [:]
    /// Session ids being provisioned (an instance launching for them), so a repeat is refused.
    var provisioning: Set<String> = []
    var usedSlots = 0
    var usedCPUUnits = 0
    var usedMemoryMiB = 0
    var accepting = true
    var cachedHostID: String?
    var noInstancesWaiters: [CheckedContinuation<Void, Never>] = []

    private nonisolated let jobs: AsyncStream<@Sendable () async -> Void>
    private nonisolated let jobsContinuation: AsyncStream<@Sendable () async -> Void>.Continuation
    /// Every live child, outside the actor, so a cancelled ``run()`` can kill them synchronously.
    nonisolated let children = Mutex<[pid_t: ChildProcess]>([:])

    init(settings: Settings, store: StreamHostStore, outbox: EventOutbox, logger: Logger) {
        self.settings = settings
        self.store = store
        self.outbox = outbox
        self.logger = logger
        (self.jobs, self.jobsContinuation) = AsyncStream.makeStream(of: (@Sendable () async -> Void).self)
    }

    /// Runs the runtime's jobs until graceful shutdown, then stops every instance and returns once all
    /// have ended. Cancellation kills every child at once.
    nonisolated func run() async throws {
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    try? await gracefulShutdown()
                    await self.stopEverything()
                    self.jobsContinuation.finish()
                }
                for await job in self.jobs {
                    group.addTask { await job() }
                }
                // Timers still sleeping (kill timers of gone instances) are moot now; an event-loop timer
                // (a connect deadline) that fires later finds the stream finished.
                group.cancelAll()
            }
        } onCancel: {
            for child in self.children.withLock({ Array($0.values) }) { child.signalGroup(SIGKILL) }
        }
    }

    /// Adds a job to ``run()``'s task group.
    nonisolated func schedule(_ job: @escaping @Sendable () async -> Void) {
        self.jobsContinuation.yield(job)
    }

    /// Adds `job` to ``run()``'s task group once `delay` has passed (a timer on an event loop; a job
    /// due after shutdown is dropped, and the timer does not keep the runtime alive).
    nonisolated func schedule(after delay: Duration, _ job: @escaping @Sendable () async -> Void) {
        SharedEventLoopGroup.after(delay) { [weak self] in self?.schedule(job) }
    }

    /// Free slots, CPU units and memory.
    var free: Free {
        Free(
            slots: self.settings.capacity.slots - self.usedSlots,
            cpuUnits: self.settings.capacity.cpuUnits - self.usedCPUUnits,
            memoryMiB: self.settings.capacity.memoryMiB - self.usedMemoryMiB)
    }

    func hostID() async throws -> String {
        if let hostID = self.cachedHostID { return hostID }
        let hostID = try await self.store.identity().hostID
        self.cachedHostID = hostID
        return hostID
    }

    // MARK: Stopping everything

    private func stopEverything() async {
        self.accepting = false
        let deadline = ServiceSupport.nowUnixMilliseconds() + self.settings.stopGrace.wholeMilliseconds
        for id in self.instances.keys.sorted() {
            self.terminate(instanceID: id, deadline: deadline, reason: "host shutting down")
        }
        if !self.instances.isEmpty {
            self.logger.info(
                "stopping instances", metadata: ["instances.count": "\(self.instances.count)"])
            await withCheckedContinuation { self.noInstancesWaiters.append($0) }
        }
    }

    // MARK: Events

    func record(
        _ kind: Skyport_Hostmgr_V1_HostEvent.Kind, instanceID: String, sessionID: String = "", appID: String,
        versionID: String, reason: String = "", savedState: [UInt8]? = nil
    ) {
        var event = Skyport_Hostmgr_V1_HostEvent()
        event.kind = kind
        event.instanceId = instanceID
        event.sessionId = sessionID
        event.appId = appID
        event.versionId = versionID
        event.atUnixMs = ServiceSupport.nowUnixMilliseconds()
        event.reason = reason
        if let savedState {
            event.savedState = savedState
            event.stateSaved = true
        }
        self.outbox.record(event)
    }
}
