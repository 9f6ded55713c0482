import DroverCore
import DroverRedis

// Claiming jobs: at once, or waiting on blocking fetches; ending those fetches; reconciling.
extension RedisJobStore {
    public func claim(queues: [String], worker: String, max: Int, start: Bool) async throws -> [ClaimedJob] {
        var claimed: [ClaimedJob] = []
        for queue in queues where claimed.count < max {
            let reply = try await run(claimCall(queue: queue, worker: worker, max: max - claimed.count, start: start))
            claimed += taken(reply, worker: worker, queue: queue)
        }
        return claimed
    }

    /// A claim's jobs, after noting whether the queue's limits held it back.
    func taken(_ reply: ClaimFunction.Reply, worker: String, queue: String) -> [ClaimedJob] {
        fetcher.hold(worker: worker, queue: queue, reply.limited)
        return reply.jobs
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
            // A queue whose rate limit has no token for us is left out until the next one.
            let open = queues.filter { !fetcher.awaitsToken(worker: worker, queue: $0) }
            let claimed = try await claim(queues: open, worker: worker, max: max, start: start)
            let left = deadline - .now
            guard claimed.isEmpty, left > .zero else { return claimed }
            if fetcher.hasHolds(worker: worker, queues: queues), !subscriber.isConnected {
                // Slots freed and limits changed are announced on the events connection:
                // listen, then look again.
                try await subscriber.connect()
                continue
            }
            // A fetch left over from an earlier call may end (empty) before ours would have:
            // that wakes us early, and we go round again until our own deadline. A queue whose
            // limits let nothing start gets no fetch (it would move a job at once, only for the
            // claim to put it back): we look again when its hold ends or a slot frees.
            for queue in queues where !fetcher.isHeld(worker: worker, queue: queue) {
                fetcher.startIfIdle(worker: worker, queue: queue, timeout: left)
            }
            if !fetcher.hasEnded(worker: worker, queues: queues) {
                let holdEnd = fetcher.firstHoldEnd(worker: worker, queues: queues).map { $0 - .now } ?? left
                await wakeup.wait(timeout: min(left, holdEnd))
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
