import Logging
import ServiceLifecycle
import SkyportProto
import SkyportRPC
import SkyportService
import Synchronization

/// Instance and session events on their way to host management, none lost and none reordered.
///
/// ``record(_:)`` is synchronous, so events queue in exactly the order the runtime produces them; the
/// ``EventOutbox/Delivery`` loop is the only writer of the store's outbox (so the table's sequence keeps
/// that order) and the only sender, oldest first, deleting a batch only once host management accepted
/// it. Event ids are `<host_id>-<sequence>`: a batch resent after a lost reply is recognised.
final class EventOutbox: Sendable {
    private let queue = Mutex<[Skyport_Hostmgr_V1_HostEvent]>([])
    private let wakeup = Wakeup()

    /// Queues `event` (its `event_id` is assigned when it is stored).
    func record(_ event: Skyport_Hostmgr_V1_HostEvent) {
        self.queue.withLock { $0.append(event) }
        self.wakeup.signal()
    }

    fileprivate func takeQueued() -> [Skyport_Hostmgr_V1_HostEvent] {
        self.queue.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
    }

    fileprivate func putBack(_ events: [Skyport_Hostmgr_V1_HostEvent]) {
        self.queue.withLock { $0.insert(contentsOf: events, at: 0) }
    }

    /// Stores queued events as they come, and sends stored ones in batches of up to 100, retrying with
    /// back-off (250 ms doubling to 10 s). On graceful shutdown it stores what is still queued and returns; the
    /// rest goes out after the next start.
    struct Delivery: Service {
        let outbox: EventOutbox
        let store: StreamHostStore
        let hostmgr: Skyport_Hostmgr_V1_HostManagerClient
        let logger: Logger

        func run() async throws {
            var backoff = Duration.milliseconds(250)
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    try await self.persistQueued()
                    let more = try await self.deliverBatch()
                    backoff = .milliseconds(250)
                    // A full batch may have more behind it: go on at once; otherwise wait for news.
                    if !more {
                        await cancelWhenGracefulShutdown { await self.outbox.wakeup.wait(timeout: nil) }
                    }
                } catch {
                    self.logger.warning(
                        "event delivery to host management failed",
                        metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                    // New events do not cut the back-off short, but they are stored as they come.
                    let clock = ContinuousClock()
                    let retryAt = clock.now + backoff
                    while clock.now < retryAt && !Task.isShuttingDownGracefully && !Task.isCancelled {
                        await cancelWhenGracefulShutdown {
                            await self.outbox.wakeup.wait(timeout: retryAt - clock.now)
                        }
                        try? await self.persistQueued()
                    }
                    backoff = min(backoff * 2, .seconds(10))
                }
            }
            do {
                try await self.persistQueued()
            } catch {
                self.logger.error("events could not be stored at shutdown", metadata: ["error": "\(error)"])
            }
        }

        private func persistQueued() async throws {
            let events = self.outbox.takeQueued()
            guard !events.isEmpty else { return }
            do {
                try await self.store.appendEvents(events)
            } catch {
                self.outbox.putBack(events)
                throw error
            }
        }

        /// Sends the oldest stored events, at most 100 and about 3 MiB of saved state per call (a server
        /// takes messages up to 4 MiB; an event with a full 1 MiB state always fits alone); returns
        /// whether there may be more.
        private func deliverBatch() async throws -> Bool {
            let limit = 100
            let stored = try await self.store.pendingEvents(limit: limit)
            var pending: [(sequence: Int64, event: Skyport_Hostmgr_V1_HostEvent)] = []
            var bytes = 0
            for item in stored {
                bytes += item.event.savedState.count + 512
                if !pending.isEmpty && bytes > 3 << 20 { break }
                pending.append(item)
            }
            guard let last = pending.last else { return false }
            let hostID = try await self.store.identity().hostID
            var request = Skyport_Hostmgr_V1_ReportEventsRequest()
            request.hostId = hostID
            request.events = pending.map { sequence, event in
                var event = event
                event.eventId = "\(hostID)-\(sequence)"
                return event
            }
            _ = try await self.hostmgr.reportEvents(request, options: CallOptions(timeout: .seconds(10)))
            try await self.store.deleteEvents(through: last.sequence)
            self.logger.debug("events delivered", metadata: ["events.count": "\(pending.count)"])
            return pending.count < stored.count || stored.count == limit
        }
    }
}

/// Wakes one waiting loop: a signal before the wait is kept, so none is lost.
final class Wakeup: Sendable {
    private struct State {
        var signalled = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Wakes the waiter, or the next one to wait.
    func signal() {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.signalled = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns on a signal, after `timeout` (`nil`: none), or on cancellation. One waiter at a time.
    func wait(timeout: Duration?) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForSignal() }
            if let timeout { group.addTask { try? await Task.sleep(for: timeout) } }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = self.state.withLock { state -> Bool in
                    if state.signalled {
                        state.signalled = false
                        return true
                    }
                    if Task.isCancelled { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}
