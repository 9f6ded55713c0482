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
        await cancelWhenGracefulShutdown {
            var gate = OutageGate(heartbeatTimeout: heartbeatTimeout)
            var failing = false
            while !Task.isCancelled {
                do {
                    if gate.mayReap(now: .now) {
                        try await reap()
                    } else {
                        _ = try await store.queues()  // only to learn whether the store answers
                    }
                    gate.succeeded(now: .now)
                    failing = false
                } catch is CancellationError {
                    return
                } catch {
                    gate.failed()
                    if !failing {
                        logger.warning(
                            "reaper cannot reach the store; it will wait out a heartbeat timeout once it can",
                            metadata: ["error": "\(error)"])
                    }
                    failing = true
                }
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }
}

/// Keeps the reaper from mistaking an outage for dead workers.
///
/// While the store (Redis) is unreachable, workers cannot heartbeat either, so when it comes
/// back every heartbeat looks old. The reaper reaps only once the store has answered it for a
/// whole heartbeat timeout without a break, which gives every live worker the time to beat
/// again. The same holds after the reaper starts: it cannot know what happened before.
struct OutageGate {
    let heartbeatTimeout: Duration
    private var reachableSince: ContinuousClock.Instant?

    init(heartbeatTimeout: Duration) {
        self.heartbeatTimeout = heartbeatTimeout
    }

    func mayReap(now: ContinuousClock.Instant) -> Bool {
        guard let reachableSince else { return false }
        return now - reachableSince >= heartbeatTimeout
    }

    mutating func succeeded(now: ContinuousClock.Instant) {
        if reachableSince == nil { reachableSince = now }
    }

    mutating func failed() {
        reachableSince = nil
    }
}
