import DroverCore
import Logging
import ServiceLifecycle

/// Deletes completed jobs past their retention and dead letters past their age or count,
/// hashes included, so Redis memory stays bounded. Safe to run in many processes at once.
public struct Janitor: Service {
    public let store: any JobStore
    public let interval: Duration
    public let logger: Logger

    public init(store: any JobStore, interval: Duration = .seconds(60), logger: Logger = Logger(label: "drover.janitor")) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    /// One pass.
    @discardableResult
    public func trim() async throws -> TrimReport {
        let report = try await store.trim()
        if report.completedRemoved + report.deadLettersRemoved > 0 {
            logger.info(
                "trimmed finished jobs",
                metadata: ["completed": "\(report.completedRemoved)", "deadLetters": "\(report.deadLettersRemoved)"])
        }
        return report
    }

    public func run() async throws {
        await everyInterval(interval, logger: logger, failure: "janitor pass failed, will retry") {
            try await trim()
        }
    }
}
