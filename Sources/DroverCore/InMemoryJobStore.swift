import Foundation

/// A ``JobStore`` in memory, with the same semantics as ``RedisJobStore``: for unit tests of
/// handlers and for trying Drover without a Redis. Nothing survives the process.
public actor InMemoryJobStore: JobStore {
    public let retention: RetentionPolicy
    public let defaults: QueueDefaults
    public let limits: SubmitLimits

    var jobs: [JobID: Job] = [:]
    var queueState: [String: QueueState] = [:]
    var workerInfo: [String: WorkerInfo] = [:]
    var idempotency: [String: (id: JobID, expires: Int64)] = [:]
    /// `queue NUL key` → the unfinished unique job holding it, and when the lock ends (ms).
    var uniqueLocks: [String: (id: JobID, expires: Int64?)] = [:]
    /// Cron schedules by name, with the state the store keeps for them.
    var cronSchedules: [String: Schedule] = [:]
    var workflows: [JobID: WorkflowRecord] = [:]
    var workflowEdges: [JobID: WorkflowEdges] = [:]
    var queueWakeups: [String: [ObjectIdentifier: Wakeup]] = [:]
    var fetchWakeups: [String: Wakeup] = [:]
    let waiters = FinishedJobWaiters()
    let cancelMailboxes = CancelMailboxes()
    /// Fired when a job gets a due time (delayed or retried), for the promoter.
    let dueTimesChanged = Wakeup()
    let clock: @Sendable () -> Int64
    /// Each queue's ``ThroughputSample``s, oldest first.
    var throughputSamples: [String: [ThroughputSample]] = [:]

    struct QueueState {
        /// Next to run first.
        var ready: [JobID] = []
        var active: [String: [JobID]] = [:]
        var scheduled: [JobID: Int64] = [:]
        var waiting: [JobID: Int64] = [:]
        var retry: [JobID: Int64] = [:]
        var dead: [JobID: Int64] = [:]
        var completed: [JobID: Int64] = [:]
        var cancelled: [JobID: Int64] = [:]
        var defaults: QueueDefaults?
        var paused = false
        var limits: QueueLimits?
        var bucket: RateBucket?
        /// The same counters as the Redis store's stats hash.
        var stats: [String: Int] = [:]
    }

    /// - Parameter clock: milliseconds since 1970; tests may pass their own.
    public init(
        retention: RetentionPolicy = RetentionPolicy(), defaults: QueueDefaults = .standard, limits: SubmitLimits = SubmitLimits(),
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.retention = retention
        self.defaults = defaults
        self.limits = limits
        self.clock = clock
    }

    // MARK: Transitions

    func move(_ id: JobID, to next: JobState, at: Int64, worker: String? = nil, error: String? = nil) {
        guard var job = jobs[id] else { return }
        precondition(job.state.canMove(to: next), "illegal transition \(job.state) -> \(next)")
        job.state = next
        job.timestamps[next.timestampField] = at
        job.history.append(JobTransition(state: next, at: at, attempt: job.attempt, worker: worker, error: error))
        if job.history.count > retention.historyLimit { job.history.removeFirst(job.history.count - retention.historyLimit) }
        jobs[id] = job
        if next == .running { count(.started, queue: job.queue, type: job.type) }
    }

    /// Puts a QUEUED job in its queue's line: after every job of its priority or higher.
    func makeReady(_ id: JobID, queue: String) {
        let priority = jobs[id]?.priority ?? 0
        var line = queueState[queue]?.ready ?? []
        let index = line.firstIndex { (jobs[$0]?.priority ?? 0) < priority } ?? line.endIndex
        line.insert(id, at: index)
        queueState[queue, default: QueueState()].ready = line
    }

    func wakeQueue(_ queue: String) {
        for wakeup in queueWakeups[queue]?.values ?? [:].values { wakeup.fire() }
    }

    /// An idempotency or unique key as this store files it: keys are per queue, as in Redis.
    static func scoped(_ key: String, queue: String) -> String { "\(queue)\u{0}\(key)" }

    /// A job has ended: its unique key is free again, waiters are told, and so are a workflow
    /// job's children (unless the caller tells them itself: `telling` false).
    func finished(_ id: JobID, telling: Bool = true) {
        if let job = jobs[id], let key = job.uniqueKey.map({ Self.scoped($0, queue: job.queue) }), uniqueLocks[key]?.id == id {
            uniqueLocks[key] = nil
        }
        waiters.notify(id)
        if telling, let job = jobs[id], job.workflow != nil { workflowJobEnded(id, state: job.state) }
    }

    func count(_ counter: JobCounter, queue: String, type: String?) {
        queueState[queue, default: QueueState()].stats[counter.rawValue, default: 0] += 1
        queueState[queue, default: QueueState()].stats[counter.field(type: type ?? "unknown"), default: 0] += 1
    }

    func recordRuntime(_ job: Job, at: Int64) {
        let ms = Int(at - (job.timestamps[JobState.running.timestampField] ?? at))
        let bucket = RuntimeHistogram.bucket(forMs: ms)
        queueState[job.queue]!.stats[RuntimeHistogram.bucketField(type: job.type, bucket: bucket), default: 0] += 1
        queueState[job.queue]!.stats[RuntimeHistogram.sumField(type: job.type), default: 0] += ms
    }

    public func statistics() async throws -> [String: [String: Int]] {
        queueState.mapValues(\.stats)
    }

    // MARK: Submitting and reading

    public func submit(_ requests: [JobRequest]) async throws -> [SubmittedJob] {
        for request in requests { try request.validate(limits: limits) }
        let at = clock()
        var results: [SubmittedJob] = []
        for request in requests {
            let idempotencyKey = request.idempotencyKey.map { Self.scoped($0, queue: request.queue) }
            if let key = idempotencyKey, let existing = idempotency[key], existing.expires > at, jobs[existing.id] != nil {
                results.append(SubmittedJob(id: existing.id, queue: request.queue, created: false))
                continue
            }
            let uniqueKey = request.unique.map { $0.key ?? "\(request.type):\(request.payload)" }
            let lockKey = uniqueKey.map { Self.scoped($0, queue: request.queue) }
            if let lockKey, let lock = uniqueLocks[lockKey], (lock.expires ?? .max) > at,
                jobs[lock.id] != nil
            {
                results.append(
                    SubmittedJob(id: lock.id, queue: request.queue, created: false, state: jobs[lock.id]!.state, duplicate: true))
                continue
            }
            let queueDefaults = queueState[request.queue]?.defaults ?? defaults
            let id = JobID()
            jobs[id] = Job(
                id: id, queue: request.queue, type: request.type, payload: request.payload, state: .submitted,
                maxAttempts: request.maxAttempts ?? queueDefaults.maxAttempts, backoff: request.backoff ?? queueDefaults.backoff,
                timeoutMs: request.timeoutMs, idempotencyKey: request.idempotencyKey,
                priority: request.priority ?? queueDefaults.priority, uniqueKey: uniqueKey,
                timestamps: [JobState.submitted.timestampField: at],
                history: [JobTransition(state: .submitted, at: at, attempt: 0)])
            if let key = idempotencyKey { idempotency[key] = (id, at + retention.idempotencyWindow.milliseconds) }
            if let lockKey { uniqueLocks[lockKey] = (id, request.unique?.ttl.map { at + $0.milliseconds }) }
            if let due = request.start?.dueMs(now: at), due > at {
                move(id, to: .scheduled, at: at)
                jobs[id]!.runAt = due
                queueState[request.queue, default: QueueState()].scheduled[id] = due
                count(.scheduled, queue: request.queue, type: request.type)
                dueTimesChanged.fire()
                results.append(SubmittedJob(id: id, queue: request.queue, created: true, state: .scheduled))
            } else {
                move(id, to: .queued, at: at)
                makeReady(id, queue: request.queue)
                wakeQueue(request.queue)
                results.append(SubmittedJob(id: id, queue: request.queue, created: true))
            }
            count(.submitted, queue: request.queue, type: request.type)
        }
        return results
    }

    public func job(_ id: JobID, queue: String?) async throws -> Job? {
        if let queue { try Names.validateQueue(queue) }
        guard let job = jobs[id], queue == nil || job.queue == queue else { return nil }
        return job
    }

    public func waitUntilFinished(_ id: JobID, queue: String?, timeout: Duration) async throws -> Job? {
        try await waiters.wait(for: id, timeout: timeout) { try await self.job(id, queue: queue) }
    }

    public func queues() async throws -> [String] { queueState.keys.sorted() }

    public func queueCounts() async throws -> [QueueCounts] {
        queueState.keys.sorted().map { name in
            let q = queueState[name]!
            let held = q.active.values.flatMap { $0 }.compactMap { jobs[$0] }
            return QueueCounts(
                queue: name, scheduled: q.scheduled.count, queued: q.ready.count, assigned: held.filter { $0.state == .assigned }.count,
                running: held.filter { $0.state == .running }.count, retryQueued: q.retry.count, completed: q.completed.count,
                deadLetter: q.dead.count, cancelled: q.cancelled.count, staleReports: q.stats[JobCounter.staleReports.rawValue] ?? 0,
                paused: q.paused, limits: q.limits?.isEmpty == false ? q.limits : nil, waiting: q.waiting.count)
        }
    }

    public func jobs(queue: String, state: JobState, after cursor: JobCursor?, limit: Int) async throws -> JobPage {
        try Names.validateQueue(queue)
        guard let q = queueState[queue], limit > 0 else { return JobPage(jobs: [], next: nil) }
        let ids: [JobID]
        switch state {
        case .queued: ids = q.ready
        case .scheduled: ids = q.scheduled.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
        case .waiting: ids = q.waiting.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
        case .retryQueued: ids = q.retry.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
        case .cancelled: ids = q.cancelled.sorted { ($0.value, $0.key) > ($1.value, $1.key) }.map(\.key)
        case .completed: ids = q.completed.sorted { ($0.value, $0.key) > ($1.value, $1.key) }.map(\.key)
        case .deadLetter: ids = q.dead.sorted { ($0.value, $0.key) > ($1.value, $1.key) }.map(\.key)
        case .assigned, .running: ids = q.active.values.flatMap { $0 }.filter { jobs[$0]?.state == state }.sorted(by: >)
        case .submitted, .failed: ids = []
        }
        // After the cursor's job if it is still listed, else where it stood (a line: its start).
        var start = 0
        if let cursor {
            if let index = ids.firstIndex(of: cursor.last) {
                start = index + 1
            } else if case .rank(let rank) = cursor.place {
                start = min(rank, ids.count)
            }
        }
        let page = Array(ids[start...].prefix(limit))
        let more = start + page.count < ids.count
        let place: (Int) -> JobCursor.Place = state == .queued ? { .line($0) } : { .rank($0) }
        return JobPage(
            jobs: page.compactMap { jobs[$0] },
            next: more ? page.last.map { JobCursor(last: $0, place: place(start + page.count)) } : nil)
    }

    public func setDefaults(_ defaults: QueueDefaults, queue: String) async throws {
        try Names.validateQueue(queue)
        try defaults.validate()
        queueState[queue, default: QueueState()].defaults = defaults
    }

    public func pause(queue: String) async throws {
        try Names.validateQueue(queue)
        guard queueState[queue] != nil else { throw JobError.unknownQueue(queue) }
        queueState[queue]!.paused = true
    }

    public func resume(queue: String) async throws {
        try Names.validateQueue(queue)
        guard queueState[queue] != nil else { throw JobError.unknownQueue(queue) }
        queueState[queue]!.paused = false
        wakeQueue(queue)
    }
}
