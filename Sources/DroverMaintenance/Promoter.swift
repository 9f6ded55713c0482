import DroverCore
import Foundation
import Logging
import ServiceLifecycle

/// Makes what is due happen: SCHEDULED jobs become QUEUED when their time comes, RETRY_QUEUED
/// jobs when their backoff is over, and cron schedules fire (``JobStore/fireDueSchedules()``).
/// It sleeps until the next of these, by the store's clock, and the store wakes it when a job
/// or a schedule gets an earlier time (``JobStore/waitForNewDueTimes(timeout:)``), so nothing
/// is late or polled for; `interval` bounds the sleep in case a wake-up is lost. Safe to run
/// in many processes at once: each move and each firing is one atomic function call.
public struct Promoter: Service {
    public let store: any JobStore
    /// The longest sleep between passes; a retry scheduled meanwhile waits at most this long.
    public let interval: Duration
    public let logger: Logger

    public init(store: any JobStore, interval: Duration = .seconds(1), logger: Logger = Logger(label: "drover.promoter")) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    /// One pass: due jobs, then due schedules. The report's next due time is the earlier of
    /// the next job's and the next firing's.
    @discardableResult
    public func promote() async throws -> PromotionReport {
        var report = try await store.promoteDueJobs()
        if report.promoted > 0 { logger.debug("promoted due jobs", metadata: ["count": "\(report.promoted)"]) }
        let firings = try await store.fireDueSchedules()
        if let next = firings.nextFireMs { report.nextDueMs = min(report.nextDueMs ?? next, next) }
        if report.nowMs == nil { report.nowMs = firings.nowMs }
        return report
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                var sleep = interval
                do {
                    let report = try await promote()
                    failing = false
                    if report.promoted >= 1000 {
                        sleep = .zero  // more are due right now
                    } else if let next = report.nextDueMs {
                        let now = report.nowMs ?? Int64(Date().timeIntervalSince1970 * 1000)
                        sleep = max(.milliseconds(1), min(interval, .milliseconds(next - now)))
                    }
                } catch is CancellationError {
                    return
                } catch {
                    if !failing { logger.warning("promoter pass failed, will retry", metadata: ["error": "\(error)"]) }
                    failing = true
                }
                if sleep > .zero { await store.waitForNewDueTimes(timeout: sleep) }
                if Task.isCancelled { return }
            }
        }
    }
}
