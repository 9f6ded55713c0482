/// How many jobs of one queue are in each state, with the queue's lifetime counters.
public struct QueueCounts: Sendable, Hashable, Codable {
    public var queue: String
    /// Delayed jobs not yet due.
    public var scheduled: Int
    /// Workflow jobs whose parents have not all ended.
    public var waiting: Int
    public var queued: Int
    public var assigned: Int
    public var running: Int
    public var retryQueued: Int
    /// Completed jobs still within their retention.
    public var completed: Int
    public var deadLetter: Int
    /// Cancelled jobs still within the retention of finished jobs.
    public var cancelled: Int
    /// Reports from workers that no longer held the job, refused by fencing.
    public var staleReports: Int
    /// Whether the queue is paused: its QUEUED jobs wait and none starts.
    public var paused: Bool
    /// The queue's rate and concurrency limits; `nil` without any.
    public var limits: QueueLimits?

    public init(
        queue: String, scheduled: Int = 0, queued: Int = 0, assigned: Int = 0, running: Int = 0, retryQueued: Int = 0,
        completed: Int = 0, deadLetter: Int = 0, cancelled: Int = 0, staleReports: Int = 0, paused: Bool = false,
        limits: QueueLimits? = nil, waiting: Int = 0
    ) {
        self.queue = queue
        self.waiting = waiting
        self.scheduled = scheduled
        self.cancelled = cancelled
        self.queued = queued
        self.assigned = assigned
        self.running = running
        self.retryQueued = retryQueued
        self.completed = completed
        self.deadLetter = deadLetter
        self.staleReports = staleReports
        self.paused = paused
        self.limits = limits
    }

    public func count(_ state: JobState) -> Int {
        switch state {
        case .queued: queued
        case .assigned: assigned
        case .running: running
        case .retryQueued: retryQueued
        case .completed: completed
        case .deadLetter: deadLetter
        case .scheduled: scheduled
        case .cancelled: cancelled
        case .waiting: waiting
        case .submitted, .failed: 0
        }
    }
}
