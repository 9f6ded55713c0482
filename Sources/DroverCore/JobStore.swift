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

    /// Waits until the job is COMPLETED, DEAD_LETTER or CANCELLED, or `timeout` passes, without polling;
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

    /// One page of the jobs of one queue in one state, newest first except QUEUED (next to run
    /// first), SCHEDULED, RETRY_QUEUED and WAITING (soonest due, or oldest, first): up to
    /// `limit` jobs after `cursor` (from the start without one). A page costs the same however
    /// deep it is; see ``JobCursor``.
    func jobs(queue: String, state: JobState, after cursor: JobCursor?, limit: Int) async throws -> JobPage

    /// Each queue's ``ThroughputSample``s of the last ``ThroughputSample/windowSeconds``,
    /// oldest first; only those taken after `since` (milliseconds since 1970) when given.
    func throughput(since: Int64?) async throws -> [QueueThroughput]

    /// Samples every queue's lifetime counters for the current second of the store's clock,
    /// once in that second however many processes call it, and forgets samples older than
    /// ``ThroughputSample/windowSeconds``. A master calls it every second.
    func sampleThroughput() async throws

    // MARK: Queues

    /// Sets the retry defaults of a queue, used by jobs submitted later without their own.
    func setDefaults(_ defaults: QueueDefaults, queue: String) async throws

    /// Pauses a queue everywhere: from now on no job of it is claimed, by any worker, until
    /// ``resume(queue:)``. Jobs already running finish; submits, retries and delayed jobs are
    /// still accepted and wait QUEUED. Pausing a paused queue changes nothing. Throws
    /// ``JobError/unknownQueue(_:)`` for a queue no job was ever submitted to.
    func pause(queue: String) async throws

    /// Lets a paused queue's jobs start again, in the order they would have; idle workers
    /// blocked on it wake at once. Resuming a running queue changes nothing.
    func resume(queue: String) async throws

    /// Sets how fast and how many at once the queue's jobs may start, across every worker,
    /// replacing its limits (``QueueLimits/none`` removes them). Claims follow them from the
    /// next one on; jobs held back stay QUEUED, and workers waiting on them look again at
    /// once. Throws ``JobError/unknownQueue(_:)``, or ``JobError/invalidField(_:_:)`` for a
    /// limit below 1.
    func setLimits(_ limits: QueueLimits, queue: String) async throws

    /// Cancels a job for good: SCHEDULED, QUEUED or RETRY_QUEUED → CANCELLED at once; an
    /// ASSIGNED or RUNNING job is marked and its worker told (see
    /// ``cancelRequests(worker:timeout:)``), and whatever the worker reports next ends it
    /// CANCELLED. Throws ``JobError/notFound(_:)``, or
    /// ``JobError/illegalTransition(id:from:to:)`` for a job that has already finished.
    func cancel(_ id: JobID, queue: String?) async throws -> CancelOutcome

    // MARK: Schedules

    /// Stores a schedule, replacing one of the same name (its firing count and last firing
    /// are kept); returns it with its next fire time, and whether it is new. Throws
    /// ``JobError`` for a bad name, expression, time zone or job.
    func putSchedule(_ schedule: Schedule) async throws -> (schedule: Schedule, created: Bool)

    /// Every schedule, by name.
    func schedules() async throws -> [Schedule]

    /// Removes a schedule; the jobs it submitted stay. Throws ``JobError/unknownSchedule(_:)``.
    func removeSchedule(named name: String) async throws

    /// Pauses or resumes a schedule; a resumed one goes on from its next time after now.
    /// Throws ``JobError/unknownSchedule(_:)``.
    func setSchedulePaused(_ paused: Bool, named name: String) async throws -> Schedule

    /// Makes every firing that is due, each claimed atomically (see ``Schedule``); the
    /// promoter calls it. Safe in any number of processes at once.
    func fireDueSchedules() async throws -> ScheduleReport

    // MARK: Workflows

    /// Checks the whole graph, then writes it in one atomic step: jobs without parents QUEUED,
    /// the others WAITING. A waiting job is queued by the call that ends its last parent; a
    /// parent that ends DEAD_LETTER or CANCELLED affects it as its edge's
    /// ``ParentFailurePolicy`` says. Throws ``JobError/invalidWorkflow(_:)`` (or the error of a
    /// job's own fields) with nothing written.
    func submitWorkflow(_ request: WorkflowRequest) async throws -> SubmittedWorkflow

    /// The workflow with each job's state, or `nil` if there is none (it may have expired, a
    /// retention after its last job ended).
    func workflow(_ id: JobID, queue: String?) async throws -> WorkflowStatus?

    /// Cancels every unfinished job of the workflow at once, as ``cancel(_:queue:)`` does each
    /// (running ones are stopped by their workers). Throws ``JobError/unknownWorkflow(_:)``.
    func cancelWorkflow(_ id: JobID, queue: String?) async throws -> WorkflowCancelOutcome

    /// Writes a batch as its workflow (see ``BatchRequest``), in one atomic step as
    /// ``submitWorkflow(_:)`` does. Throws ``JobError/invalidWorkflow(_:)`` with nothing written.
    func createBatch(_ request: BatchRequest) async throws -> SubmittedWorkflow

    /// Adds members to an open batch, and closes it if `close` is set (with no jobs: only
    /// closes it), atomically: the callbacks wait for the new members too, and a batch closed
    /// with every member ended queues them in this call. Closing a closed batch changes
    /// nothing. Throws ``JobError/batchClosed(_:)`` when adding to a batch that is not open,
    /// ``JobError/unknownWorkflow(_:)``, or a job's own error, with nothing written.
    func addToBatch(_ id: JobID, queue: String?, jobs: [JobRequest], close: Bool) async throws -> BatchAddition

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

    /// Records the result (JSON text) of one step of a RUNNING job's effect ledger, fenced like
    /// a report: it applies only while `worker` holds the job at the lease's attempt. A step is
    /// recorded once: a later record of it answers the first result, and a later attempt of
    /// the job is handed the recorded steps with its claim (``ClaimedJob/effects``).
    func recordEffect(_ lease: JobLease, step: String, value: String, worker: String) async throws -> EffectRecord

    /// Waits up to `timeout` for cancel requests of jobs the worker holds and returns their
    /// ids (an empty array on timeout). A worker keeps one of these waiting while it runs.
    func cancelRequests(worker: String, timeout: Duration) async throws -> [JobID]

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

    /// SCHEDULED and RETRY_QUEUED → QUEUED for every due job. Returns how many moved and when
    /// the next is due.
    func promoteDueJobs() async throws -> PromotionReport

    /// Returns after `timeout`, or sooner when a job was scheduled or retried since the last
    /// call returned and may be due before the promoter would otherwise look. The promoter
    /// sleeps in it, so a delayed job is queued on time without polling.
    func waitForNewDueTimes(timeout: Duration) async

    /// Deletes completed jobs past retention and dead letters past their age or count.
    func trim() async throws -> TrimReport

    /// Closes the store's connections.
    func close() async
}

extension JobStore {
    public func close() async {}

    /// The first page's jobs.
    public func jobs(queue: String, state: JobState, limit: Int) async throws -> [Job] {
        try await jobs(queue: queue, state: state, after: nil, limit: limit).jobs
    }

    /// Without notifications, the promoter looks again at its interval.
    public func waitForNewDueTimes(timeout: Duration) async {
        try? await Task.sleep(for: timeout)
    }

    /// Two steps: the report, then the claim.
    public func complete(_ reports: [CompletionReport], worker: String, thenClaim max: Int, from queue: String, start: Bool)
        async throws -> (outcomes: [ReportOutcome], claimed: [ClaimedJob])
    {
        let outcomes = try await complete(reports, worker: worker)
        let claimed = max > 0 ? try await claim(queues: [queue], worker: worker, max: max, start: start) : []
        return (outcomes, claimed)
    }
}
