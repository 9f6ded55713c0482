/// The lifetime counters every store keeps per queue (the Redis store in the queue's stats
/// hash), each also per job type (`completed:<type>`): the one list of their names, which the
/// Redis functions, the in-memory store and the metrics all take from here.
public enum JobCounter: String, Sendable, CaseIterable {
    case submitted
    /// Jobs that entered RUNNING.
    case started
    case completed
    case failed
    case retried
    case deadLettered
    /// Jobs handed back by the reaper after their worker was lost.
    case reassigned
    /// Reports refused by fencing.
    case staleReports
    /// Jobs submitted with a delay (they also count in `submitted`).
    case scheduled
    case cancelled

    /// The field of this counter for one job type.
    public func field(type: String) -> String { "\(rawValue):\(type)" }
}

/// Lifetime counters of a whole queue, not kept per job type, in the same stats hash.
public enum QueueCounter: String, Sendable, CaseIterable {
    /// Claims that the queue's rate or concurrency limit held back (once per claim).
    case limitedClaims
}

/// The states whose current number of jobs the stats hash keeps as a gauge (the others are
/// counted from their own keys).
public enum JobGauges {
    public static let states: [JobState] = [.assigned, .running]
}

/// The buckets of the job run-time histogram both stores keep per queue and job type, as
/// `runtime:<type>:<le ms>` counts and a `runtimeSum:<type>` in milliseconds.
public enum RuntimeHistogram {
    /// Upper bounds in milliseconds; a run longer than the last counts in `+Inf`.
    public static let bucketsMs = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000]

    /// The bucket label a run of `ms` milliseconds counts in.
    public static func bucket(forMs ms: Int) -> String {
        bucketsMs.first { ms <= $0 }.map(String.init) ?? "+Inf"
    }

    public static func bucketField(type: String, bucket: String) -> String { "runtime:\(type):\(bucket)" }
    public static func sumField(type: String) -> String { "runtimeSum:\(type)" }
}
