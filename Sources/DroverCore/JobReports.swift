/// A job a worker has taken, with what it needs to run and report it.
public struct ClaimedJob: Sendable, Hashable {
    public var id: JobID
    public var queue: String
    public var type: String
    /// JSON text.
    public var payload: String
    public var state: JobState
    /// The fencing token: reports for this job must carry it.
    public var attempt: Int
    public var maxAttempts: Int
    public var attemptBase: Int
    public var backoff: BackoffPolicy
    public var timeoutMs: Int?
    /// For a workflow job: each completed parent's result (JSON text), by the parent's name.
    public var parentResults: [String: String]
    /// For a workflow job that runs although some parents did not complete (their edge's
    /// policy is ``ParentFailurePolicy/continue``): how each of those ended, by name.
    public var failedParents: [String: ParentFailure]
    /// The steps of the job's effect ledger recorded by earlier attempts, by step.
    public var effects: [String: String]

    public init(
        id: JobID, queue: String, type: String, payload: String, state: JobState, attempt: Int, maxAttempts: Int,
        attemptBase: Int, backoff: BackoffPolicy, timeoutMs: Int?, parentResults: [String: String] = [:],
        failedParents: [String: ParentFailure] = [:], effects: [String: String] = [:]
    ) {
        self.id = id
        self.queue = queue
        self.type = type
        self.payload = payload
        self.state = state
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.attemptBase = attemptBase
        self.backoff = backoff
        self.timeoutMs = timeoutMs
        self.parentResults = parentResults
        self.failedParents = failedParents
        self.effects = effects
    }

    public var attempts: Attempts { Attempts(attempt: attempt, attemptBase: attemptBase, maxAttempts: maxAttempts) }

    /// True when this is the job's last attempt before DEAD_LETTER.
    public var isLastAttempt: Bool { attempts.isLast }
}

/// One hand-out of a job to a worker: reports carry it, and fencing checks it.
public struct JobLease: Sendable, Hashable, Codable {
    public var id: JobID
    public var queue: String
    public var attempt: Int

    public init(id: JobID, queue: String, attempt: Int) {
        self.id = id
        self.queue = queue
        self.attempt = attempt
    }
}

extension ClaimedJob {
    /// What the worker's reports about this job must carry.
    public var lease: JobLease { JobLease(id: id, queue: queue, attempt: attempt) }
}

/// A handler's result for one job.
public struct CompletionReport: Sendable, Hashable {
    public var lease: JobLease
    /// JSON text.
    public var result: String

    public init(lease: JobLease, result: String) {
        self.lease = lease
        self.result = result
    }

    public init(job: ClaimedJob, result: String) {
        self.init(lease: job.lease, result: result)
    }
}

/// A failure of one job.
public struct FailureReport: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The handler threw, timed out, or the job could not be run: uses up an attempt.
        case error
        /// The worker stopped before the job finished. The job is queued again (after its
        /// backoff) even on its last attempt, because the failure was not the job's.
        case interrupted
    }

    public var lease: JobLease
    public var error: String
    public var kind: Kind
    /// The wait before the retry.
    public var retryDelayMs: Int

    public init(lease: JobLease, error: String, kind: Kind = .error, retryDelayMs: Int) {
        self.lease = lease
        self.error = error
        self.kind = kind
        self.retryDelayMs = retryDelayMs
    }

    /// A failure whose retry waits as the job's backoff policy says (not at all when interrupted).
    public init(job: ClaimedJob, error: String, kind: Kind = .error, retryDelayMs: Int? = nil) {
        self.init(
            lease: job.lease, error: error, kind: kind,
            retryDelayMs: retryDelayMs ?? (kind == .interrupted ? 0 : job.backoff.delayMs(afterAttempt: job.attempts.used)))
    }
}

/// What became of a worker's report.
public enum ReportOutcome: Sendable, Hashable {
    /// The job moved; this is its state now.
    case applied(JobState)
    /// Refused by fencing: the job is no longer held by this worker and attempt. Nothing
    /// changed; the store counted it. `current` is the job's state (`nil` if it is gone).
    case stale(current: JobState?)

    public var isApplied: Bool {
        if case .applied = self { return true }
        return false
    }
}
