/// How many jobs of one queue are in each state, with the queue's lifetime counters.
public struct QueueCounts: Sendable, Hashable, Codable {
    public var queue: String
    public var queued: Int
    public var assigned: Int
    public var running: Int
    public var retryQueued: Int
    /// Completed jobs still within their retention.
    public var completed: Int
    public var deadLetter: Int
    /// Reports from workers that no longer held the job, refused by fencing.
    public var staleReports: Int

    public init(
        queue: String, queued: Int = 0, assigned: Int = 0, running: Int = 0, retryQueued: Int = 0,
        completed: Int = 0, deadLetter: Int = 0, staleReports: Int = 0
    ) {
        self.queue = queue
        self.queued = queued
        self.assigned = assigned
        self.running = running
        self.retryQueued = retryQueued
        self.completed = completed
        self.deadLetter = deadLetter
        self.staleReports = staleReports
    }

    public func count(_ state: JobState) -> Int {
        switch state {
        case .queued: queued
        case .assigned: assigned
        case .running: running
        case .retryQueued: retryQueued
        case .completed: completed
        case .deadLetter: deadLetter
        case .submitted, .failed: 0
        }
    }
}
