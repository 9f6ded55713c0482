import DroverCore
import Logging
import ServiceLifecycle

/// Samples every queue's lifetime counters once a second into the store
/// (``JobStore/sampleThroughput()``), the history behind the dashboard's chart of the last
/// fifteen minutes. Every master runs one (workers need not); the store keeps one sample a
/// second whichever master took it, so every master's dashboard draws the same chart.
public struct ThroughputSampler: Service {
    public let store: any JobStore
    public let interval: Duration
    public let logger: Logger

    public init(store: any JobStore, interval: Duration = .seconds(1), logger: Logger = Logger(label: "drover.throughput")) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await everyInterval(interval, logger: logger, failure: "throughput sample failed, will retry") {
            try await store.sampleThroughput()
        }
    }
}
