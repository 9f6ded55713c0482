/// Everything Drover stores, behind one protocol: ``RedisJobStore`` in production and
/// ``InMemoryJobStore`` for unit tests of your handlers. Both follow the same contract, and
/// one test suite holds both to it.
///
/// Every method that changes a job is one atomic step of the lifecycle (see ``JobState``);
/// the ones a worker calls are fenced by worker id and attempt, so a report from a worker
/// that no longer holds the job changes nothing and is counted as stale.
public protocol JobStore: Sendable {
    // MARK: Submitting and reading

    /// Validates and stores the requests as QUEUED jobs, all in one round trip per queue.
    /// Throws before writing anything if any request is invalid.
    func submit(_ requests: [JobRequest]) async throws -> [SubmittedJob]

    /// The job with its history, or `nil` if there is none (it may have expired).
    /// Pass the queue when you know it: without it the store looks in every known queue.
    func job(_ id: JobID, queue: String?) async throws -> Job?

    /// Waits until the job is COMPLETED or DEAD_LETTER, or `timeout` passes, without polling;
    /// returns the job as it is then (`nil` if there is no such job).
    func waitUntilFinished(_ id: JobID, queue: String?, timeout: Duration) async throws -> Job?

    /// Every queue that has ever had a job.
    func queues() async throws -> [String]

    /// How many jobs each queue has in each state.
    func queueCounts() async throws -> [QueueCounts]

    /// Each queue's lifetime counters, as its stats hash holds them: `submitted`, `started`,
    /// `completed`, `failed`, `retried`, `deadLettered`, `reassigned`, `staleReports`, each
    /// also per job type (`completed:<type>`), and the run-time histogram
    /// (`runtime:<type>:<le ms>`, `runtimeSum:<type>`).
    func statistics() async throws -> [String: [String: Int]]

    /// The jobs of one queue in one state, newest first except QUEUED (next to run first).
    func jobs(queue: String, state: JobState, offset: Int, limit: Int) async throws -> [Job]

    /// Sets the retry defaults of a queue, used by jobs submitted later without their own.
    func setDefaults(_ defaults: QueueDefaults, queue: String) async throws

    // MARK: Dead letters

    /// DEAD_LETTER → QUEUED with a fresh set of attempts.
    /// Throws ``JobError/notFound(_:)`` or ``JobError/illegalTransition(id:from:to:)``.
    func retryDeadLetter(_ id: JobID, queue: String?) async throws

    /// Deletes every dead letter of the queue, hashes included; returns how many.
    func purgeDeadLetters(queue: String) async throws -> Int

    // MARK: Workers

    /// Takes up to `max` QUEUED jobs from `queues`, earlier queues first, without waiting.
    /// The jobs become ASSIGNED to `worker`, or RUNNING if `start` is true.
    func claim(queues: [String], worker: String, max: Int, start: Bool) async throws -> [ClaimedJob]

    /// Like ``claim(queues:worker:max:start:)`` but waits up to `timeout` for a job when every
    /// queue is empty. Returns an empty array on timeout.
    func waitAndClaim(queues: [String], worker: String, max: Int, start: Bool, timeout: Duration) async throws -> [ClaimedJob]

    /// Ends the worker's blocked fetches at once: a ``waitAndClaim(queues:worker:max:start:timeout:)``
    /// in progress returns. Changes no job. A worker calls it when shutdown begins.
    func interruptFetches(worker: String) async throws

    /// Makes the store agree with the worker about what it holds, in `queues`: ends its
    /// fetches; ids it fetched but never claimed go back to the head of their queue; jobs held
    /// under its name that are not in `holding` (a claim whose reply was lost) go FAILED →
    /// RETRY_QUEUED, due at once and not counted against them. A worker calls it after a
    /// failed claim and when it stops.
    @discardableResult
    func reconcile(worker: String, queues: [String], holding: Set<JobID>) async throws -> ReconcileReport

    /// ASSIGNED → RUNNING.
    func start(_ jobs: [JobLease], worker: String) async throws -> [ReportOutcome]

    /// RUNNING → COMPLETED.
    func complete(_ reports: [CompletionReport], worker: String) async throws -> [ReportOutcome]

    /// RUNNING → COMPLETED for `reports`, then claims up to `max` jobs from `queue` (as
    /// ``claim(queues:worker:max:start:)`` does) for the slots the finished jobs freed: a busy
    /// worker's report and its next fetch in one round trip where the store can (Redis: one
    /// pipeline). If this throws, the claim may have happened: reconcile before trusting what
    /// the store says the worker holds.
    func complete(_ reports: [CompletionReport], worker: String, thenClaim max: Int, from queue: String, start: Bool) async throws
        -> (outcomes: [ReportOutcome], claimed: [ClaimedJob])

    /// RUNNING → FAILED → RETRY_QUEUED or DEAD_LETTER.
    func fail(_ reports: [FailureReport], worker: String) async throws -> [ReportOutcome]

    /// Records that the worker is alive, with what it says about itself.
    func heartbeat(_ info: WorkerInfo) async throws

    /// Removes a worker that stopped cleanly (after it handed back its jobs).
    func deregister(worker: String) async throws

    /// Every registered worker, most recent heartbeat first.
    func workers() async throws -> [WorkerInfo]

    // MARK: Maintenance (safe to run in any number of processes at once)

    /// Hands back the jobs of every worker whose heartbeat is older than `heartbeatTimeout`:
    /// each goes through FAILED ("worker lost") to RETRY_QUEUED or DEAD_LETTER.
    func reapLostWorkers(heartbeatTimeout: Duration) async throws -> ReapReport

    /// RETRY_QUEUED → QUEUED for every due job. Returns how many moved and when the next is due.
    func promoteDueJobs() async throws -> PromotionReport

    /// Deletes completed jobs past retention and dead letters past their age or count.
    func trim() async throws -> TrimReport

    /// Closes the store's connections.
    func close() async
}

extension JobStore {
    public func close() async {}

    /// Two steps: the report, then the claim.
    public func complete(_ reports: [CompletionReport], worker: String, thenClaim max: Int, from queue: String, start: Bool)
        async throws -> (outcomes: [ReportOutcome], claimed: [ClaimedJob])
    {
        let outcomes = try await complete(reports, worker: worker)
        let claimed = max > 0 ? try await claim(queues: [queue], worker: worker, max: max, start: start) : []
        return (outcomes, claimed)
    }
}

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

    public init(
        id: JobID, queue: String, type: String, payload: String, state: JobState, attempt: Int, maxAttempts: Int,
        attemptBase: Int, backoff: BackoffPolicy, timeoutMs: Int?
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

/// How long finished jobs are kept and how big the dead-letter queue may grow.
public struct RetentionPolicy: Sendable, Hashable {
    /// How long a COMPLETED job and its result are kept (default 24 hours).
    public var completed: Duration
    /// How long a dead letter is kept (default 30 days).
    public var deadLetterMaxAge: Duration
    /// How many dead letters a queue keeps at most; the oldest go first (default 10,000).
    public var deadLetterMaxCount: Int
    /// How long an idempotency key keeps pointing at its job (default 24 hours).
    public var idempotencyWindow: Duration
    /// How many history entries a job keeps (the newest; default 100).
    public var historyLimit: Int

    public init(
        completed: Duration = .seconds(86_400), deadLetterMaxAge: Duration = .seconds(30 * 86_400),
        deadLetterMaxCount: Int = 10_000, idempotencyWindow: Duration = .seconds(86_400), historyLimit: Int = 100
    ) {
        self.completed = completed
        self.deadLetterMaxAge = deadLetterMaxAge
        self.deadLetterMaxCount = deadLetterMaxCount
        self.idempotencyWindow = idempotencyWindow
        self.historyLimit = historyLimit
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
