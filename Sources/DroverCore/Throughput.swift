/// A queue's lifetime counters as they stood at one second, sampled by the masters so that
/// every master draws the same chart of the last minutes: the rate over a stretch is the
/// difference of two samples over the time between them.
public struct ThroughputSample: Sendable, Hashable, Codable {
    /// The second the sample was taken in, in milliseconds since 1970 by the store's clock
    /// (Redis's, which every master shares).
    public var at: Int64
    public var completed: Int
    /// Failed attempts, retried or not.
    public var failed: Int
    public var deadLettered: Int

    public init(at: Int64, completed: Int, failed: Int, deadLettered: Int) {
        self.at = at
        self.completed = completed
        self.failed = failed
        self.deadLettered = deadLettered
    }

    /// How far back the samples go: the dashboard's chart shows the last fifteen minutes.
    public static let windowSeconds = 900

    /// The lifetime counters a sample holds, as the stats hash names them.
    public static let counters: [JobCounter] = [.completed, .failed, .deadLettered]
}

/// The samples of one queue, oldest first.
public struct QueueThroughput: Sendable, Hashable, Codable {
    public var queue: String
    public var samples: [ThroughputSample]

    public init(queue: String, samples: [ThroughputSample]) {
        self.queue = queue
        self.samples = samples
    }
}
