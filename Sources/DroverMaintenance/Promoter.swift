import DroverCore
import Foundation
import Logging
import ServiceLifecycle

/// Moves SCHEDULED jobs to QUEUED when their time comes and RETRY_QUEUED jobs when their
/// backoff is over. It sleeps until the next job is due, by the store's clock, and the store
/// wakes it when a job gets an earlier due time (``JobStore/waitForNewDueTimes(timeout:)``),
/// so delayed jobs and retries are neither late nor polled for; `interval` bounds the sleep
/// in case a wake-up is lost. Safe to run in many processes at once: each move is one atomic
/// function call.
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

    /// One pass.
    @discardableResult
    public func promote() async throws -> PromotionReport {
        let report = try await store.promoteDueJobs()
        if report.promoted > 0 { logger.debug("promoted due jobs", metadata: ["count": "\(report.promoted)"]) }
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
