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
    /// When the next SCHEDULED or RETRY_QUEUED job is due (ms since 1970), if any.
    public var nextDueMs: Int64?
    /// The store's clock when the pass ran (ms since 1970): the promoter's sleep is
    /// `nextDueMs - nowMs`, so a skewed local clock neither wakes it early nor late.
    public var nowMs: Int64?

    public init(promoted: Int, nextDueMs: Int64?, nowMs: Int64? = nil) {
        self.promoted = promoted
        self.nextDueMs = nextDueMs
        self.nowMs = nowMs
    }
}

/// What one janitor pass did.
public struct TrimReport: Sendable, Hashable {
    /// Completed and cancelled jobs past the retention of finished jobs.
    public var completedRemoved: Int
    public var deadLettersRemoved: Int

    public init(completedRemoved: Int, deadLettersRemoved: Int) {
        self.completedRemoved = completedRemoved
        self.deadLettersRemoved = deadLettersRemoved
    }
}
