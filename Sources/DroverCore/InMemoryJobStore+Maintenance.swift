import Foundation

// The maintenance duties' steps, dead letters, delayed jobs and cancellation.
extension InMemoryJobStore {
    // MARK: Dead letters

    public func retryDeadLetter(_ id: JobID, queue: String?) async throws {
        guard let job = try await self.job(id, queue: queue) else { throw JobError.notFound(id) }
        guard job.state == .deadLetter else { throw JobError.illegalTransition(id: id, from: job.state, to: .queued) }
        queueState[job.queue]?.dead[id] = nil
        workflowJobRetried(id)
        jobs[id]?.attemptBase = job.attempt
        move(id, to: .queued, at: clock())
        makeReady(id, queue: job.queue)
        wakeQueue(job.queue)
    }

    public func purgeDeadLetters(queue: String) async throws -> Int {
        try Names.validateQueue(queue)
        let ids = Array(queueState[queue]?.dead.keys ?? [:].keys)
        for id in ids { delete(id, queue: queue) }
        queueState[queue]?.dead = [:]
        return ids.count
    }

    func delete(_ id: JobID, queue: String) {
        // A dead workflow job whose children wait for its retry cancels them: it will not come back.
        if workflowEdges[id]?.children.isEmpty == false { workflowJobEnded(id, state: nil) }
        workflowEdges[id] = nil
        if let key = jobs[id]?.idempotencyKey.map({ Self.scoped($0, queue: queue) }), idempotency[key]?.id == id {
            idempotency[key] = nil
        }
        jobs[id] = nil
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
            let sources: [(WritableKeyPath<QueueState, [JobID: Int64]>, JobState)] = [(\.scheduled, .scheduled), (\.retry, .retryQueued)]
            for (source, from) in sources {
                for (id, due) in queueState[queue]![keyPath: source].sorted(by: { ($0.value, $0.key) < ($1.value, $1.key) }) {
                    if due > at {
                        nextDue = min(nextDue ?? due, due)
                        continue
                    }
                    queueState[queue]![keyPath: source][id] = nil
                    guard jobs[id]?.state == from else { continue }
                    move(id, to: .queued, at: at)
                    jobs[id]!.runAt = nil
                    makeReady(id, queue: queue)
                    promoted += 1
                }
            }
            if promoted > 0 { wakeQueue(queue) }
        }
        return PromotionReport(promoted: promoted, nextDueMs: nextDue, nowMs: at)
    }

    public func waitForNewDueTimes(timeout: Duration) async {
        await dueTimesChanged.wait(timeout: timeout)
    }

    public func cancel(_ id: JobID, queue: String?) async throws -> CancelOutcome {
        guard let job = try await self.job(id, queue: queue) else { throw JobError.notFound(id) }
        guard job.state.canMove(to: .cancelled) else { throw JobError.illegalTransition(id: id, from: job.state, to: .cancelled) }
        switch job.state {
        case .running:
            if jobs[id]!.cancelRequestedAt == nil { jobs[id]!.cancelRequestedAt = clock() }
            if let worker = job.worker { cancelMailboxes.deliver(id, to: worker) }
            return .stopping(worker: job.worker)
        case .scheduled: queueState[job.queue]!.scheduled[id] = nil
        case .waiting: queueState[job.queue]!.waiting[id] = nil
        case .retryQueued: queueState[job.queue]!.retry[id] = nil
        case .queued: queueState[job.queue]!.ready.removeAll { $0 == id }
        case .assigned:
            if let worker = job.worker {
                release(id, queue: job.queue, worker: worker)
                cancelMailboxes.deliver(id, to: worker)
            }
        default: break
        }
        endCancelled(id, at: clock(), worker: nil, error: nil)
        return .cancelled
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
            for (id, time) in queueState[queue]!.cancelled where time <= at - retention.completed.milliseconds {
                queueState[queue]!.cancelled[id] = nil
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
        for id in workflows.keys { _ = liveWorkflow(id) }
        return report
    }
}

// MARK: Throughput

extension InMemoryJobStore {
    public func throughput(since: Int64?) async throws -> [QueueThroughput] {
        let oldest = clock() - Int64(ThroughputSample.windowSeconds) * 1000
        return queueState.keys.sorted().map { queue in
            QueueThroughput(
                queue: queue,
                samples: (throughputSamples[queue] ?? []).filter { $0.at >= oldest && $0.at > (since ?? .min) })
        }
    }

    public func sampleThroughput() async throws {
        let second = clock() / 1000 * 1000
        let oldest = second - Int64(ThroughputSample.windowSeconds) * 1000
        for (queue, state) in queueState {
            var samples = throughputSamples[queue] ?? []
            guard samples.last?.at != second else { continue }
            func value(_ counter: JobCounter) -> Int { state.stats[counter.rawValue] ?? 0 }
            samples.append(
                ThroughputSample(at: second, completed: value(.completed), failed: value(.failed), deadLettered: value(.deadLettered)))
            samples.removeAll { $0.at < oldest }
            throughputSamples[queue] = samples
        }
    }
}
