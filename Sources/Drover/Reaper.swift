import DroverCore
import Logging
import ServiceLifecycle

/// Finds workers whose heartbeat stopped and hands their jobs back: each goes through FAILED
/// ("worker lost") to RETRY_QUEUED, or DEAD_LETTER when it has no attempts left. Safe to run
/// in every master and worker at once: each step re-checks the heartbeat inside Redis.
public struct Reaper: Service {
    public let store: any JobStore
    /// How long a worker may be silent before it counts as lost.
    public let heartbeatTimeout: Duration
    /// How often to look.
    public let interval: Duration
    public let logger: Logger

    public init(
        store: any JobStore, heartbeatTimeout: Duration = .seconds(10), interval: Duration = .seconds(1),
        logger: Logger = Logger(label: "drover.reaper")
    ) {
        self.store = store
        self.heartbeatTimeout = heartbeatTimeout
        self.interval = interval
        self.logger = logger
    }

    /// One pass.
    @discardableResult
    public func reap() async throws -> ReapReport {
        let report = try await store.reapLostWorkers(heartbeatTimeout: heartbeatTimeout)
        for worker in report.lostWorkers {
            logger.warning(
                "worker lost",
                metadata: [
                    "worker": "\(worker)", "failedJobs": "\(report.failedJobs.count)", "requeuedJobs": "\(report.requeuedJobs.count)",
                ])
        }
        return report
    }

    public func run() async throws {
        try await runEvery(interval, logger: logger) { try await reap() }
    }
}

/// Runs `body` every `interval` until cancelled or the service group shuts down; a failing
/// pass is logged once per streak and retried next time.
func runEvery(_ interval: Duration, logger: Logger, _ body: @escaping @Sendable () async throws -> Void) async throws {
    await cancelWhenGracefulShutdown {
        var failing = false
        while !Task.isCancelled {
            do {
                try await body()
                failing = false
            } catch is CancellationError {
                return
            } catch {
                if !failing { logger.warning("pass failed, will retry", metadata: ["error": "\(error)"]) }
                failing = true
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
