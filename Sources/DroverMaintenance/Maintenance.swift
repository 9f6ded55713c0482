import DroverCore
import Logging
import ServiceLifecycle

/// The maintenance duties, the reaper, the promoter and the janitor, with their one
/// configuration. A master runs them; so does every worker by default, so a deployment needs
/// no other process. Every step they take re-checks its preconditions inside the store, so any
/// number of processes may run them at once.
public struct Maintenance: Service {
    public struct Configuration: Sendable, Hashable {
        /// How long a worker may be silent before the reaper hands back its jobs.
        public var heartbeatTimeout: Duration
        /// How often the reaper looks for lost workers.
        public var reaperInterval: Duration
        /// The promoter's longest sleep: it wakes sooner when a retry is due sooner.
        public var promoterInterval: Duration
        /// How often the janitor trims finished jobs.
        public var janitorInterval: Duration

        public init(
            heartbeatTimeout: Duration = .seconds(10), reaperInterval: Duration = .seconds(1),
            promoterInterval: Duration = .seconds(1), janitorInterval: Duration = .seconds(60)
        ) {
            self.heartbeatTimeout = heartbeatTimeout
            self.reaperInterval = reaperInterval
            self.promoterInterval = promoterInterval
            self.janitorInterval = janitorInterval
        }
    }

    public let store: any JobStore
    public let configuration: Configuration
    public let logger: Logger

    public init(store: any JobStore, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "drover.maintenance")) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    public var reaper: Reaper {
        Reaper(store: store, heartbeatTimeout: configuration.heartbeatTimeout, interval: configuration.reaperInterval, logger: logger)
    }

    public var promoter: Promoter { Promoter(store: store, interval: configuration.promoterInterval, logger: logger) }

    public var janitor: Janitor { Janitor(store: store, interval: configuration.janitorInterval, logger: logger) }

    /// Runs the three duties until cancelled or shut down gracefully.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { duties in
            duties.addTask { try await reaper.run() }
            duties.addTask { try await promoter.run() }
            duties.addTask { try await janitor.run() }
        }
    }
}
