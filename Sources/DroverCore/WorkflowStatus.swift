/// A workflow as the store holds it: its graph, and each job's state now.
public struct WorkflowStatus: Sendable, Hashable, Codable {
    public var id: JobID
    public var queue: String
    public var name: String?
    /// When it was submitted and (once every job has ended) finished, ms since 1970.
    public var createdAt: Int64
    public var finishedAt: Int64?
    /// When the whole workflow was cancelled.
    public var cancelledAt: Int64?
    /// For a batch: whether members can still be added.
    public var batch: BatchState?
    /// In an order where each job comes after its parents.
    public var jobs: [Job]

    public struct Job: Sendable, Hashable, Codable {
        public var name: String
        public var id: JobID
        /// `nil` once the job's record is gone (past the retention of finished jobs).
        public var state: JobState?
        public var dependsOn: [String]
        public var attempt: Int
        public var error: String?

        public init(name: String, id: JobID, state: JobState?, dependsOn: [String], attempt: Int = 0, error: String? = nil) {
            self.name = name
            self.id = id
            self.state = state
            self.dependsOn = dependsOn
            self.attempt = attempt
            self.error = error
        }
    }

    public init(
        id: JobID, queue: String, name: String?, createdAt: Int64, finishedAt: Int64? = nil, cancelledAt: Int64? = nil,
        batch: BatchState? = nil,
        jobs: [Job]
    ) {
        self.id = id
        self.queue = queue
        self.name = name
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.cancelledAt = cancelledAt
        self.batch = batch
        self.jobs = jobs
    }

    /// Where the workflow as a whole is, from its jobs' states.
    public var state: WorkflowState {
        let states = jobs.map(\.state)
        if states.allSatisfy({ $0?.isTerminal ?? true }) {
            if states.allSatisfy({ $0 == .completed || $0 == nil }) { return .completed }
            return cancelledAt == nil ? .failed : .cancelled
        }
        // Nothing can move until an operator acts: every unfinished job waits on a dead one.
        let moving: Set<JobState> = [.queued, .assigned, .running, .scheduled, .retryQueued]
        if !states.contains(where: { $0.map(moving.contains) ?? false }) && states.contains(.deadLetter) { return .blocked }
        return .running
    }
}

/// The state of a workflow as a whole.
public enum WorkflowState: String, Sendable, Hashable, Codable {
    /// Some job is queued, running or due to be retried.
    case running = "RUNNING"
    /// Jobs wait on a DEAD_LETTER parent (policy ``ParentFailurePolicy/wait``): retry it, or
    /// cancel the workflow.
    case blocked = "BLOCKED"
    /// Every job completed.
    case completed = "COMPLETED"
    /// Every job has ended, some DEAD_LETTER or CANCELLED.
    case failed = "FAILED"
    /// Cancelled as a whole.
    case cancelled = "CANCELLED"
}

/// What cancelling a workflow did.
public struct WorkflowCancelOutcome: Sendable, Hashable, Codable {
    /// Jobs ended CANCELLED at once.
    public var cancelled: Int
    /// Running jobs whose workers were told to stop; each ends CANCELLED when it does.
    public var stopping: Int

    public init(cancelled: Int, stopping: Int) {
        self.cancelled = cancelled
        self.stopping = stopping
    }
}
