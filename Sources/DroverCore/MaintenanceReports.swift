/// What one reaper pass did.
public struct ReapReport: Sendable, Hashable, Codable {
    /// Workers whose jobs were handed back and who were removed.
    public var lostWorkers: [String] = []
    /// Jobs sent to RETRY_QUEUED or DEAD_LETTER.
    public var failedJobs: [JobID] = []
    /// Jobs a lost worker had fetched but not started, back at the head of their queue.
    public var requeuedJobs: [JobID] = []

    public init() {}
}

/// What one reconcile did.
public struct ReconcileReport: Sendable, Hashable, Codable {
    /// Fetched but never claimed: back at the head of their queue.
    public var requeued: [JobID] = []
    /// Held under the worker's name without its knowledge: FAILED → RETRY_QUEUED.
    public var handedBack: [JobID] = []

    public init(requeued: [JobID] = [], handedBack: [JobID] = []) {
        self.requeued = requeued
        self.handedBack = handedBack
    }
}

/// What one promoter pass did.
public struct PromotionReport: Sendable, Hashable {
    public var promoted: Int
    /// When the next RETRY_QUEUED job is due (ms since 1970), if any.
    public var nextDueMs: Int64?

    public init(promoted: Int, nextDueMs: Int64?) {
        self.promoted = promoted
        self.nextDueMs = nextDueMs
    }
}

/// What one janitor pass did.
public struct TrimReport: Sendable, Hashable {
    public var completedRemoved: Int
    public var deadLettersRemoved: Int

    public init(completedRemoved: Int, deadLettersRemoved: Int) {
        self.completedRemoved = completedRemoved
        self.deadLettersRemoved = deadLettersRemoved
    }
}
