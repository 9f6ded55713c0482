import Foundation

// Claims, reports and heartbeats.
extension InMemoryJobStore {
    // MARK: Workers

    public func claim(queues: [String], worker: String, max: Int, start: Bool) async throws -> [ClaimedJob] {
        let at = clock()
        var claimed: [ClaimedJob] = []
        for queue in queues where claimed.count < max && queueState[queue]?.paused != true {
            let allowance = allowance(queue, at: at)
            var started = 0
            while claimed.count < max, started < allowance, let id = queueState[queue]?.ready.first {
                queueState[queue]!.ready.removeFirst()
                guard let job = jobs[id], job.state == .queued else { continue }
                jobs[id]!.attempt += 1
                jobs[id]!.worker = worker
                move(id, to: .assigned, at: at, worker: worker)
                if start { move(id, to: .running, at: at, worker: worker) }
                queueState[queue]!.active[worker, default: []].append(id)
                claimed.append(self.claimed(jobs[id]!))
                started += 1
            }
            if allowance != .max {
                spend(
                    queue, started: started, short: started == allowance && claimed.count < max && queueState[queue]?.ready.isEmpty == false
                )
            }
        }
        return claimed
    }

    func claimed(_ job: Job) -> ClaimedJob {
        ClaimedJob(
            id: job.id, queue: job.queue, type: job.type, payload: job.payload, state: job.state, attempt: job.attempt,
            maxAttempts: job.maxAttempts, attemptBase: job.attemptBase, backoff: job.backoff, timeoutMs: job.timeoutMs,
            parentResults: workflowEdges[job.id]?.parentResults ?? [:], failedParents: workflowEdges[job.id]?.failedParents ?? [:],
            effects: job.effects)
    }

    public func waitAndClaim(queues: [String], worker: String, max: Int, start: Bool, timeout: Duration) async throws -> [ClaimedJob] {
        let deadline = ContinuousClock.now + timeout
        var claimed = try await claim(queues: queues, worker: worker, max: max, start: start)
        // Woken by a job arriving, a slot freed, limits changed or an interrupt; a rate limit's
        // next token is waited for as well.
        while claimed.isEmpty, deadline > .now {
            let wakeup = Wakeup()
            let key = ObjectIdentifier(wakeup)
            for queue in queues { queueWakeups[queue, default: [:]][key] = wakeup }
            fetchWakeups[worker] = wakeup
            let left = deadline - .now
            await wakeup.wait(timeout: min(left, untilNextToken(queues) ?? left))
            for queue in queues { queueWakeups[queue]?[key] = nil }
            let interrupted = fetchWakeups[worker] !== wakeup
            if !interrupted { fetchWakeups[worker] = nil }
            claimed = try await claim(queues: queues, worker: worker, max: max, start: start)
            if interrupted { break }
        }
        return claimed
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

    func holds(_ job: JobLease, worker: String, states: Set<JobState>) -> Bool {
        guard let current = jobs[job.id] else { return false }
        return states.contains(current.state) && current.worker == worker && current.attempt == job.attempt
    }

    func stale(_ id: JobID, queue: String) -> ReportOutcome {
        count(.staleReports, queue: queue, type: jobs[id]?.type)
        return .stale(current: jobs[id]?.state)
    }

    func release(_ id: JobID, queue: String, worker: String) {
        queueState[queue]?.active[worker]?.removeAll { $0 == id }
        if queueState[queue]?.active[worker]?.isEmpty == true { queueState[queue]?.active[worker] = nil }
        // A concurrency slot is free: workers waiting for one look again.
        if queueState[queue]?.limits?.concurrency != nil { wakeQueue(queue) }
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
            // The same report again (its first answer was lost) is answered as the first was.
            if holds(job, worker: worker, states: [.completed]) { return .applied(.completed) }
            guard holds(job, worker: worker, states: [.running]) else { return stale(job.id, queue: job.queue) }
            release(job.id, queue: job.queue, worker: worker)
            if jobs[job.id]!.cancelRequestedAt != nil {
                jobs[job.id]!.result = report.result
                return .applied(endCancelled(job.id, at: at, worker: worker, error: nil))
            }
            jobs[job.id]!.result = report.result
            move(job.id, to: .completed, at: at, worker: worker)
            jobs[job.id]!.runAt = nil
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

    func failJob(_ id: JobID, at: Int64, worker: String, error: String, delayMs: Int, alwaysRetry: Bool) -> JobState {
        // A job whose cancel was asked for: the failure is how its worker stopped it.
        if jobs[id]!.cancelRequestedAt != nil { return endCancelled(id, at: at, worker: worker, error: error) }
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
            dueTimesChanged.fire()
            return .retryQueued
        }
        move(id, to: .deadLetter, at: at, worker: worker)
        queueState[job.queue]!.dead[id] = at
        count(.deadLettered, queue: job.queue, type: job.type)
        finished(id)
        return .deadLetter
    }

    @discardableResult
    func endCancelled(_ id: JobID, at: Int64, worker: String?, error: String?, telling: Bool = true) -> JobState {
        move(id, to: .cancelled, at: at, worker: worker, error: error)
        if let error { jobs[id]!.error = error }
        jobs[id]!.runAt = nil
        let job = jobs[id]!
        queueState[job.queue]!.cancelled[id] = at
        count(.cancelled, queue: job.queue, type: job.type)
        finished(id, telling: telling)
        return .cancelled
    }

    public func cancelRequests(worker: String, timeout: Duration) async throws -> [JobID] {
        try Names.validateWorkerID(worker)
        return await cancelMailboxes.take(worker: worker, timeout: timeout)
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
}
