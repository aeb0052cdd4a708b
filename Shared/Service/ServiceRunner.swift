import Foundation
import Logging
import ServiceLifecycle
import SkyportConfig
import SkyportHTTP2

#if canImport(Glibc)
    import Glibc
#endif

/// The `main` of every Skyport executable:
///
/// ```swift
/// @main enum BillingMain {
///     static func main() async { await ServiceRunner.main(Billing.specification) }
/// }
/// ```
///
/// Parses flags and environment (`--help` lists every key; a bad or missing value exits 64 with a
/// message naming the key), installs the logfmt log handler, runs the ``ServiceRuntime`` with SIGTERM
/// and SIGINT as graceful-shutdown signals, and exits 0 after a clean shutdown or 1 after a failure.
public enum ServiceRunner {
    /// Runs `specification` as this process.
    public static func main(_ specification: ServiceSpecification) async -> Never {
        await SharedEventLoopGroup.runConcurrencyOnEventLoops()
        let schema = specification.configSchema
        let configuration = schema.parseOrExit()
        let settings: CommonSettings
        do {
            settings = try CommonSettings(configuration: configuration, specification: specification)
        } catch {
            FileHandle.standardError.write(Data("\(specification.name): \(error)\n".utf8))
            exit(64)
        }
        let level = settings.logLevel
        LoggingSystem.bootstrap(
            { label, provider in
                LogfmtLogHandler(service: specification.name, label: label, level: level, metadataProvider: provider)
            }, metadataProvider: LogfmtLogHandler.metadataProvider)
        let logger = Logger(label: specification.name)
        let start = ContinuousClock.now
        do {
            let runtime = try await ServiceRuntime(
                specification: specification, configuration: configuration, logger: logger,
                signals: [.sigterm, .sigint])
            logger.info(
                "starting",
                metadata: [
                    "listen": "\(settings.listen)", "metrics": "\(settings.metricsListen)",
                    "store": "\(runtime.database.configuration)", "pid": "\(getpid())",
                ])
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await runtime.run() }
                group.addTask {
                    if (try? await runtime.waitUntilServing()) != nil {
                        logger.info(
                            "started", metadata: ["duration_ms": "\((ContinuousClock.now - start).millisecondsText)"])
                    }
                }
            }
            logger.info("stopped")
            exit(0)
        } catch let error as ConfigError {
            // A service's own keys are checked while its parts are built: a configuration error all the same.
            FileHandle.standardError.write(Data("\(specification.name): \(error)\n".utf8))
            exit(64)
        } catch {
            logger.critical("failed", metadata: ["error": "\(error)"])
            exit(1)
        }
    }
}
