import DroverCore
import DroverRedis

// The reaper's, the promoter's and the janitor's steps, and the operator's dead-letter tools.
extension RedisJobStore {
    public func reapLostWorkers(heartbeatTimeout: Duration) async throws -> ReapReport {
        var report = ReapReport()
        // Lost: a heartbeat older than the timeout. Orphaned: a processing list whose worker
        // is not registered at all (it deregistered with jobs left, or its entry was removed).
        let lost = try await run(LostWorkersFunction(heartbeatTimeout: heartbeatTimeout))
        let queues = try await self.queues()
        let holders = try await redis.pipeline(queues.map { RedisCommand("SMEMBERS", keys.queue($0).holders) })
            .map { ($0.array ?? []).compactMap(\.string) }
        let registered = Set((try await redis.send(RedisCommand("ZRANGE", keys.workers, 0, -1)).array ?? []).compactMap(\.string))
        let lostSet = Set(lost)
        var alive: Set<String> = []
        for (queue, workers) in zip(queues, holders) {
            for worker in workers where lostSet.contains(worker) || !registered.contains(worker) {
                if alive.contains(worker) { continue }
                if try await reap(worker: worker, queue: queue, heartbeatTimeout: heartbeatTimeout, into: &report) == false {
                    alive.insert(worker)
                }
            }
        }
        for worker in lost where !alive.contains(worker) {
            if try await run(SilentWorkerFunction(worker: worker, heartbeatTimeout: heartbeatTimeout, forget: true)) {
                report.lostWorkers.append(worker)
                // Its fetch connections here, if it fetched through this store, go too.
                _ = await fetcher.forget(worker: worker)
                logger.warning("removed lost worker", metadata: ["worker": "\(worker)"])
            }
        }
        return report
    }

    /// Hands back everything in one worker's processing list of one queue. Returns false if
    /// the worker turned out to be alive.
    private func reap(worker: String, queue: String, heartbeatTimeout: Duration, into report: inout ReapReport) async throws -> Bool {
        let q = keys.queue(queue)
        while true {
            let ids = (try await redis.send(RedisCommand("LRANGE", q.active(worker: worker), 0, 99)).array ?? []).compactMap(\.string)
            // Each job's retry delay follows its own backoff policy and attempt.
            let fields: [any RedisArgument] = [JobField.attempt.rawValue, JobField.attemptBase.rawValue, JobField.backoff.rawValue]
            let jobs = try await redis.pipeline(ids.map { RedisCommand("HMGET", [q.jobPrefix + $0] + fields) })
            var delays: [(id: String, retryDelayMs: Int)] = []
            for (id, reply) in zip(ids, jobs) {
                let f = reply.array ?? []
                let used = (f.first?.int ?? 0) - (f.count > 1 ? f[1].int ?? 0 : 0)
                let backoff = f.count > 2 ? f[2].string.flatMap(JobHash.decodeBackoff) ?? .standard : .standard
                delays.append((id, backoff.delayMs(afterAttempt: used)))
            }
            // Checked right before the reap, not inside it: see ReapFunction.
            guard try await run(SilentWorkerFunction(worker: worker, heartbeatTimeout: heartbeatTimeout)) else { return false }
            // Runs even for an empty list, to drop the worker from the queue's holders.
            let answers = try await run(ReapFunction(queue: queue, worker: worker, jobs: delays, heartbeatTimeout: heartbeatTimeout))
            for (id, answer) in zip(ids, answers) {
                guard let jobID = JobID(id) else { continue }
                switch answer {
                case .requeued:
                    report.requeuedJobs.append(jobID)
                case .failed(let state):
                    report.failedJobs.append(jobID)
                    logger.warning(
                        "reaped job of lost worker",
                        metadata: ["job": "\(id)", "queue": "\(queue)", "worker": "\(worker)", "state": "\(state.rawValue)"])
                case .skipped:
                    break
                }
            }
            if ids.count < 100 { return true }
        }
    }

    public func promoteDueJobs() async throws -> PromotionReport {
        let passes = try await run(try await queues().map { PromoteFunction(queue: $0, limit: 1000) })
        return PromotionReport(
            promoted: passes.map(\.promoted).reduce(0, +), nextDueMs: passes.compactMap(\.nextDueMs).min(),
            nowMs: passes.compactMap(\.nowMs).max())
    }

    public func trim() async throws -> TrimReport {
        let r = configuration.retention
        var total = TrimReport(completedRemoved: 0, deadLettersRemoved: 0)
        for queue in try await queues() {
            let batch = 1000
            while true {
                let removed = try await run(
                    TrimFunction(
                        queue: queue, completedRetention: r.completed, deadLetterMaxAge: r.deadLetterMaxAge,
                        deadLetterMaxCount: r.deadLetterMaxCount, batch: batch))
                total.completedRemoved += removed.completed
                total.deadLettersRemoved += removed.dead
                if removed.completed < batch && removed.dead < batch { break }
            }
        }
        return total
    }

    public func retryDeadLetter(_ id: JobID, queue: String?) async throws {
        guard let queue = try await resolveQueue(of: id, hint: queue) else { throw JobError.notFound(id) }
        switch try await run(RetryDeadFunction(queue: queue, id: id)) {
        case .queued: return
        case .illegal(let from): throw JobError.illegalTransition(id: id, from: from ?? .queued, to: .queued)
        case .missing: throw JobError.notFound(id)
        }
    }

    public func purgeDeadLetters(queue: String) async throws -> Int {
        try Names.validateQueue(queue)
        var removed = 0
        let batch = 1000
        while true {
            // A retention far in the future and an age limit of 0 ms: every dead letter is past
            // it, and no completed job is.
            let pass = try await run(
                TrimFunction(
                    queue: queue, completedRetention: .milliseconds(Int64.max / 2), deadLetterMaxAge: .zero,
                    deadLetterMaxCount: configuration.retention.deadLetterMaxCount, batch: batch))
            removed += pass.dead
            if pass.dead < batch { return removed }
        }
    }
}

// Delayed jobs and cancellation.
extension RedisJobStore {
    public func waitForNewDueTimes(timeout: Duration) async {
        // The first call subscribes; what was announced before that is unknown, so it returns
        // at once and the promoter looks again.
        if !subscriber.isConnected {
            if (try? await subscriber.connect()) != nil { return }
        }
        await dueTimesChanged.wait(timeout: timeout)
    }

    public func cancel(_ id: JobID, queue: String?) async throws -> CancelOutcome {
        guard let queue = try await resolveQueue(of: id, hint: queue) else { throw JobError.notFound(id) }
        let reply = try await run(
            CancelFunction(queue: queue, id: id))
        switch reply {
        case .cancelled: return .cancelled
        case .stopping(let worker): return .stopping(worker: worker)
        case .illegal(let from): throw JobError.illegalTransition(id: id, from: from ?? .completed, to: .cancelled)
        case .missing: throw JobError.notFound(id)
        }
    }

    public func cancelRequests(worker: String, timeout: Duration) async throws -> [JobID] {
        try Names.validateWorkerID(worker)
        try await subscriber.connect()
        return await cancelMailboxes.take(worker: worker, timeout: timeout)
    }
}
