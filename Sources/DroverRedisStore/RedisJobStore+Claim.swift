import DroverCore
import DroverRedis

// Claiming jobs: at once, or waiting on blocking fetches; ending those fetches; reconciling.
extension RedisJobStore {
    public func claim(queues: [String], worker: String, max: Int, start: Bool) async throws -> [ClaimedJob] {
        var claimed: [ClaimedJob] = []
        for queue in queues where claimed.count < max {
            claimed += try await run(claimCall(queue: queue, worker: worker, max: max - claimed.count, start: start))
        }
        return claimed
    }

    /// A claim from one queue; ids already moved by a finished blocking fetch come first.
    func claimCall(queue: String, worker: String, max: Int, start: Bool) -> ClaimFunction {
        let moved = fetcher.takeMoved(worker: worker, queue: queue, max: max)
        return ClaimFunction(queue: queue, worker: worker, max: max - moved.count, start: start, moved: moved)
    }

    public func waitAndClaim(queues: [String], worker: String, max: Int, start: Bool, timeout: Duration) async throws -> [ClaimedJob] {
        let deadline = ContinuousClock.now + timeout
        let wakeup = fetcher.wakeup(worker: worker)
        fetcher.beginWait(worker: worker)
        while true {
            let claimed = try await claim(queues: queues, worker: worker, max: max, start: start)
            let left = deadline - .now
            guard claimed.isEmpty, left > .zero else { return claimed }
            // A fetch left over from an earlier call may end (empty) before ours would have:
            // that wakes us early, and we go round again until our own deadline.
            for queue in queues { fetcher.startIfIdle(worker: worker, queue: queue, timeout: left) }
            if !fetcher.hasEnded(worker: worker, queues: queues) {
                await wakeup.wait(timeout: left)
            }
            if let error = fetcher.takeFailure(worker: worker, queues: queues) {
                // The reply of a BLMOVE that Redis may have run was lost: whatever it moved sits
                // in our active list still QUEUED. The worker's reconcile puts it back.
                throw error
            }
            if fetcher.isReleased(worker: worker) { return [] }
        }
    }

    public func interruptFetches(worker: String) async throws {
        try await fetcher.interrupt(worker: worker, using: redis)
    }

    public func reconcile(worker: String, queues: [String], holding: Set<JobID>) async throws -> ReconcileReport {
        try await interruptFetches(worker: worker)
        let fetched = await fetcher.forget(worker: worker)
        var report = ReconcileReport()
        for queue in fetched.union(queues).sorted() {
            let done = try await run(ReconcileFunction(queue: queue, worker: worker, holding: holding))
            report.requeued += done.requeued
            report.handedBack += done.handedBack
        }
        return report
    }
}
