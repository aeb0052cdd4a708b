internal import Metrics

/// Transaction timings for Prometheus: `skyport_store_transaction_duration_seconds` with the
/// dimensions `kind` (`read` or `write`) and `outcome` (`ok` or `error`); and on SQLite
/// `skyport_store_commits_total`, the commits of write transactions (several share one under load, so
/// write transactions per commit is the timer's count of writes over this).
struct StorageMetrics: Sendable {
    let commits: Counter
    private let readOK: Timer
    private let readError: Timer
    private let writeOK: Timer
    private let writeError: Timer

    init(factory: any MetricsFactory) {
        func timer(_ kind: String, _ outcome: String) -> Timer {
            Timer(
                label: "skyport_store_transaction_duration_seconds",
                dimensions: [("kind", kind), ("outcome", outcome)], factory: factory)
        }
        self.commits = Counter(label: "skyport_store_commits_total", factory: factory)
        self.readOK = timer("read", "ok")
        self.readError = timer("read", "error")
        self.writeOK = timer("write", "ok")
        self.writeError = timer("write", "error")
    }

    /// Runs `body` and records its duration when `metrics` is set.
    static func measure<T>(_ metrics: StorageMetrics?, write: Bool, _ body: () async throws -> T) async throws -> T {
        guard let metrics else { return try await body() }
        let start = ContinuousClock.now
        do {
            let value = try await body()
            (write ? metrics.writeOK : metrics.readOK).record(duration: ContinuousClock.now - start)
            return value
        } catch {
            (write ? metrics.writeError : metrics.readError).record(duration: ContinuousClock.now - start)
            throw error
        }
    }
}
