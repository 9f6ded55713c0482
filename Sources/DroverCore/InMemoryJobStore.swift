import Foundation

/// A ``JobStore`` in memory, with the same semantics as ``RedisJobStore``: for unit tests of
/// handlers and for trying Drover without a Redis. Nothing survives the process.
public actor InMemoryJobStore: JobStore {
    public let retention: RetentionPolicy
    public let defaults: QueueDefaults
    public let limits: SubmitLimits

    private var jobs: [JobID: Job] = [:]
    private var queueState: [String: QueueState] = [:]
    private var workerInfo: [String: WorkerInfo] = [:]
    private var idempotency: [String: (id: JobID, expires: Int64)] = [:]
    private var queueWakeups: [String: [ObjectIdentifier: Wakeup]] = [:]
    private var fetchWakeups: [String: Wakeup] = [:]
    private let waiters = FinishedJobWaiters()
    private let clock: @Sendable () -> Int64

    private struct QueueState {
        /// Next to run first.
        var ready: [JobID] = []
        var active: [String: [JobID]] = [:]
        var retry: [JobID: Int64] = [:]
        var dead: [JobID: Int64] = [:]
        var completed: [JobID: Int64] = [:]
        var defaults: QueueDefaults?
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

    private func move(_ id: JobID, to next: JobState, at: Int64, worker: String? = nil, error: String? = nil) {
        guard var job = jobs[id] else { return }
        precondition(job.state.canMove(to: next), "illegal transition \(job.state) -> \(next)")
        job.state = next
        job.timestamps[next.timestampField] = at
        job.history.append(JobTransition(state: next, at: at, attempt: job.attempt, worker: worker, error: error))
        if job.history.count > retention.historyLimit { job.history.removeFirst(job.history.count - retention.historyLimit) }
        jobs[id] = job
        if next == .running { count(.started, queue: job.queue, type: job.type) }
    }

    private func wakeQueue(_ queue: String) {
        for wakeup in queueWakeups[queue]?.values ?? [:].values { wakeup.fire() }
    }

    private func finished(_ id: JobID) { waiters.notify(id) }

    private func count(_ counter: JobCounter, queue: String, type: String?) {
        queueState[queue, default: QueueState()].stats[counter.rawValue, default: 0] += 1
        queueState[queue, default: QueueState()].stats[counter.field(type: type ?? "unknown"), default: 0] += 1
    }

    private func recordRuntime(_ job: Job, at: Int64) {
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
            let idempotencyKey = request.idempotencyKey.map { "\(request.queue)\u{0}\($0)" }
            if let key = idempotencyKey, let existing = idempotency[key], existing.expires > at, jobs[existing.id] != nil {
                results.append(SubmittedJob(id: existing.id, queue: request.queue, created: false))
                continue
            }
            let queueDefaults = queueState[request.queue]?.defaults ?? defaults
            let id = JobID()
            jobs[id] = Job(
                id: id, queue: request.queue, type: request.type, payload: request.payload, state: .submitted,
                maxAttempts: request.maxAttempts ?? queueDefaults.maxAttempts, backoff: request.backoff ?? queueDefaults.backoff,
                timeoutMs: request.timeoutMs, idempotencyKey: request.idempotencyKey,
                timestamps: [JobState.submitted.timestampField: at],
                history: [JobTransition(state: .submitted, at: at, attempt: 0)])
            if let key = idempotencyKey { idempotency[key] = (id, at + retention.idempotencyWindow.milliseconds) }
            move(id, to: .queued, at: at)
            queueState[request.queue, default: QueueState()].ready.append(id)
            count(.submitted, queue: request.queue, type: request.type)
            wakeQueue(request.queue)
            results.append(SubmittedJob(id: id, queue: request.queue, created: true))
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
                queue: name, queued: q.ready.count, assigned: held.filter { $0.state == .assigned }.count,
                running: held.filter { $0.state == .running }.count, retryQueued: q.retry.count, completed: q.completed.count,
                deadLetter: q.dead.count, staleReports: q.stats[JobCounter.staleReports.rawValue] ?? 0)
        }
    }

    public func jobs(queue: String, state: JobState, offset: Int, limit: Int) async throws -> [Job] {
        try Names.validateQueue(queue)
        guard let q = queueState[queue], limit > 0 else { return [] }
        let ids: [JobID]
        switch state {
        case .queued: ids = q.ready
        case .retryQueued: ids = q.retry.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
        case .completed: ids = q.completed.sorted { ($0.value, $0.key) > ($1.value, $1.key) }.map(\.key)
        case .deadLetter: ids = q.dead.sorted { ($0.value, $0.key) > ($1.value, $1.key) }.map(\.key)
        case .assigned, .running: ids = q.active.values.flatMap { $0 }.filter { jobs[$0]?.state == state }.sorted(by: >)
        case .submitted, .failed: ids = []
        }
        return ids.dropFirst(offset).prefix(limit).compactMap { jobs[$0] }
    }

    public func setDefaults(_ defaults: QueueDefaults, queue: String) async throws {
        try Names.validateQueue(queue)
        guard defaults.maxAttempts >= 1 else { throw JobError.invalidField("maxAttempts", "must be at least 1") }
        try defaults.backoff.validate()
        queueState[queue, default: QueueState()].defaults = defaults
    }

    // MARK: Dead letters

    public func retryDeadLetter(_ id: JobID, queue: String?) async throws {
        guard let job = try await self.job(id, queue: queue) else { throw JobError.notFound(id) }
        guard job.state == .deadLetter else { throw JobError.illegalTransition(id: id, from: job.state, to: .queued) }
        queueState[job.queue]?.dead[id] = nil
        jobs[id]?.attemptBase = job.attempt
        move(id, to: .queued, at: clock())
        queueState[job.queue]?.ready.append(id)
        wakeQueue(job.queue)
    }

    public func purgeDeadLetters(queue: String) async throws -> Int {
        try Names.validateQueue(queue)
        let ids = Array(queueState[queue]?.dead.keys ?? [:].keys)
        for id in ids { delete(id, queue: queue) }
        queueState[queue]?.dead = [:]
        return ids.count
    }

    private func delete(_ id: JobID, queue: String) {
        if let key = jobs[id]?.idempotencyKey, idempotency["\(queue)\u{0}\(key)"]?.id == id {
            idempotency["\(queue)\u{0}\(key)"] = nil
        }
        jobs[id] = nil
    }

    // MARK: Workers

    public func claim(queues: [String], worker: String, max: Int, start: Bool) async throws -> [ClaimedJob] {
        let at = clock()
        var claimed: [ClaimedJob] = []
        for queue in queues where claimed.count < max {
            while claimed.count < max, let id = queueState[queue]?.ready.first {
                queueState[queue]!.ready.removeFirst()
                guard let job = jobs[id], job.state == .queued else { continue }
                jobs[id]!.attempt += 1
                jobs[id]!.worker = worker
                move(id, to: .assigned, at: at, worker: worker)
                if start { move(id, to: .running, at: at, worker: worker) }
                queueState[queue]!.active[worker, default: []].append(id)
                claimed.append(Self.claimed(jobs[id]!))
            }
        }
        return claimed
    }

    private static func claimed(_ job: Job) -> ClaimedJob {
        ClaimedJob(
            id: job.id, queue: job.queue, type: job.type, payload: job.payload, state: job.state, attempt: job.attempt,
            maxAttempts: job.maxAttempts, attemptBase: job.attemptBase, backoff: job.backoff, timeoutMs: job.timeoutMs)
    }

    public func waitAndClaim(queues: [String], worker: String, max: Int, start: Bool, timeout: Duration) async throws -> [ClaimedJob] {
        let claimed = try await claim(queues: queues, worker: worker, max: max, start: start)
        guard claimed.isEmpty else { return claimed }
        let wakeup = Wakeup()
        let key = ObjectIdentifier(wakeup)
        for queue in queues { queueWakeups[queue, default: [:]][key] = wakeup }
        fetchWakeups[worker] = wakeup
        await wakeup.wait(timeout: timeout)
        for queue in queues { queueWakeups[queue]?[key] = nil }
        if fetchWakeups[worker] === wakeup { fetchWakeups[worker] = nil }
        return try await claim(queues: queues, worker: worker, max: max, start: start)
    }

    public func interruptFetches(worker: String) async throws {
        fetchWakeups.removeValue(forKey: worker)?.fire()
    }

    public func reconcile(worker: String, queues: [String], holding: Set<JobID>) async throws -> ReconcileReport {
        // Claims here are atomic and cannot lose their reply, but a caller may still have
        // forgotten a job (a restart under the same id): hand those back the same way.
        try await interruptFetches(worker: worker)
        let at = clock()
        var report = ReconcileReport()
        for queue in Set(queues).union(queueState.keys).sorted() {
            for id in queueState[queue]?.active[worker] ?? [] where !holding.contains(id) {
                release(id, queue: queue, worker: worker)
                guard let job = jobs[id], job.worker == worker, job.state == .assigned || job.state == .running else { continue }
                _ = failJob(id, at: at, worker: worker, error: FailureReason.forgotten(by: worker), delayMs: 0, alwaysRetry: true)
                report.handedBack.append(id)
            }
        }
        return report
    }

    private func holds(_ job: JobLease, worker: String, states: Set<JobState>) -> Bool {
        guard let current = jobs[job.id] else { return false }
        return states.contains(current.state) && current.worker == worker && current.attempt == job.attempt
    }

    private func stale(_ id: JobID, queue: String) -> ReportOutcome {
        count(.staleReports, queue: queue, type: jobs[id]?.type)
        return .stale(current: jobs[id]?.state)
    }

    private func release(_ id: JobID, queue: String, worker: String) {
        queueState[queue]?.active[worker]?.removeAll { $0 == id }
        if queueState[queue]?.active[worker]?.isEmpty == true { queueState[queue]?.active[worker] = nil }
    }

    public func start(_ jobs: [JobLease], worker: String) async throws -> [ReportOutcome] {
        let at = clock()
        return jobs.map { job in
            guard holds(job, worker: worker, states: [.assigned]) else { return stale(job.id, queue: job.queue) }
            move(job.id, to: .running, at: at, worker: worker)
            return .applied(.running)
        }
    }

    public func complete(_ reports: [CompletionReport], worker: String) async throws -> [ReportOutcome] {
        for report in reports { try JSONText.validate(report.result, field: "result") }
        let at = clock()
        return reports.map { report in
            let job = report.lease
            guard holds(job, worker: worker, states: [.running]) else { return stale(job.id, queue: job.queue) }
            move(job.id, to: .completed, at: at, worker: worker)
            jobs[job.id]!.result = report.result
            jobs[job.id]!.runAt = nil
            release(job.id, queue: job.queue, worker: worker)
            queueState[job.queue]!.completed[job.id] = at
            count(.completed, queue: job.queue, type: jobs[job.id]!.type)
            recordRuntime(jobs[job.id]!, at: at)
            finished(job.id)
            return .applied(.completed)
        }
    }

    public func fail(_ reports: [FailureReport], worker: String) async throws -> [ReportOutcome] {
        let at = clock()
        return reports.map { report in
            let job = report.lease
            let allowed: Set<JobState> = report.kind == .interrupted ? [.running, .assigned] : [.running]
            guard holds(job, worker: worker, states: allowed) else { return stale(job.id, queue: job.queue) }
            release(job.id, queue: job.queue, worker: worker)
            return .applied(
                failJob(
                    job.id, at: at, worker: worker, error: report.error, delayMs: report.retryDelayMs,
                    alwaysRetry: report.kind == .interrupted))
        }
    }

    private func failJob(_ id: JobID, at: Int64, worker: String, error: String, delayMs: Int, alwaysRetry: Bool) -> JobState {
        move(id, to: .failed, at: at, worker: worker, error: error)
        jobs[id]!.error = error
        let job = jobs[id]!
        count(.failed, queue: job.queue, type: job.type)
        if job.attempts.stateAfterFailure(countsAgainstJob: !alwaysRetry) == .retryQueued {
            move(id, to: .retryQueued, at: at, worker: worker)
            let due = at + Int64(delayMs)
            jobs[id]!.runAt = due
            queueState[job.queue]!.retry[id] = due
            count(.retried, queue: job.queue, type: job.type)
            return .retryQueued
        }
        move(id, to: .deadLetter, at: at, worker: worker)
        queueState[job.queue]!.dead[id] = at
        count(.deadLettered, queue: job.queue, type: job.type)
        finished(id)
        return .deadLetter
    }

    public func heartbeat(_ info: WorkerInfo) async throws {
        try Names.validateWorkerID(info.id)
        for queue in info.queues { try Names.validateQueue(queue) }
        var info = info
        info.lastHeartbeat = clock()
        workerInfo[info.id] = info
    }

    public func deregister(worker: String) async throws {
        workerInfo[worker] = nil
    }

    public func workers() async throws -> [WorkerInfo] {
        workerInfo.values.sorted { ($0.lastHeartbeat ?? 0, $0.id) > ($1.lastHeartbeat ?? 0, $1.id) }
    }

    // MARK: Maintenance

    public func reapLostWorkers(heartbeatTimeout: Duration) async throws -> ReapReport {
        let at = clock()
        var report = ReapReport()
        let lost = workerInfo.values.filter { ($0.lastHeartbeat ?? 0) < at - heartbeatTimeout.milliseconds }.map(\.id)
        // Processing lists whose worker is not registered at all are orphans: reap them too.
        let orphaned = queueState.values.flatMap { $0.active.keys }.filter { workerInfo[$0] == nil }
        for worker in Set(lost + orphaned).sorted() {
            let reason = FailureReason.workerLost(worker, silentFor: heartbeatTimeout)
            for queue in queueState.keys.sorted() {
                for id in queueState[queue]!.active[worker] ?? [] {
                    guard let job = jobs[id], job.worker == worker, job.state == .running || job.state == .assigned else { continue }
                    let delay = job.backoff.delayMs(afterAttempt: job.attempts.used)
                    _ = failJob(id, at: at, worker: worker, error: reason, delayMs: delay, alwaysRetry: false)
                    count(.reassigned, queue: queue, type: job.type)
                    report.failedJobs.append(id)
                }
                queueState[queue]!.active[worker] = nil
            }
            if workerInfo.removeValue(forKey: worker) != nil { report.lostWorkers.append(worker) }
        }
        return report
    }

    public func promoteDueJobs() async throws -> PromotionReport {
        let at = clock()
        var promoted = 0
        var nextDue: Int64?
        for queue in queueState.keys.sorted() {
            for (id, due) in queueState[queue]!.retry.sorted(by: { ($0.value, $0.key) < ($1.value, $1.key) }) {
                if due > at {
                    nextDue = min(nextDue ?? due, due)
                    continue
                }
                queueState[queue]!.retry[id] = nil
                guard jobs[id]?.state == .retryQueued else { continue }
                move(id, to: .queued, at: at)
                jobs[id]!.runAt = nil
                queueState[queue]!.ready.append(id)
                promoted += 1
            }
            if promoted > 0 { wakeQueue(queue) }
        }
        return PromotionReport(promoted: promoted, nextDueMs: nextDue)
    }

    public func trim() async throws -> TrimReport {
        let at = clock()
        var report = TrimReport(completedRemoved: 0, deadLettersRemoved: 0)
        for queue in queueState.keys.sorted() {
            for (id, time) in queueState[queue]!.completed where time <= at - retention.completed.milliseconds {
                queueState[queue]!.completed[id] = nil
                delete(id, queue: queue)
                report.completedRemoved += 1
            }
            var dead = queueState[queue]!.dead.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
            let tooOld = dead.prefix { $0.value <= at - retention.deadLetterMaxAge.milliseconds }.count
            let tooMany = max(0, dead.count - tooOld - retention.deadLetterMaxCount)
            for (id, _) in dead.prefix(tooOld + tooMany) {
                queueState[queue]!.dead[id] = nil
                delete(id, queue: queue)
                report.deadLettersRemoved += 1
            }
            dead.removeAll()
        }
        return report
    }
}
