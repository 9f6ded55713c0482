import DroverCore
import DroverTestSupport
import Foundation
import Testing

/// The contract every JobStore keeps, run against Redis and the in-memory store alike.
@Suite struct JobStoreContractTests {
    let noDelay = BackoffPolicy.fixed(ms: 0)
    /// A heartbeat timeout that makes every worker count as lost, so reaper tests need not
    /// wait for real time to pass.
    let everyoneIsLost = Duration.seconds(-60)

    func worker(_ id: String, queues: [String] = ["default"]) -> WorkerInfo {
        WorkerInfo(id: id, host: "test", pid: 1, queues: queues, concurrency: 1, inFlight: 0, startedAt: 0, version: "test")
    }

    @Test(arguments: ContractKind.allCases)
    func submitQueuesTheJobAndRecordsHistory(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let submitted = try await f.store.submit([JobRequest(queue: "mail", type: "send", payload: #"{"to":"a@b.c"}"#)])
        #expect(submitted.count == 1 && submitted[0].created)
        let job = try #require(try await f.store.job(submitted[0].id, queue: nil))
        #expect(job.state == .queued)
        #expect(job.queue == "mail" && job.type == "send" && job.payload == #"{"to":"a@b.c"}"#)
        #expect(job.attempt == 0 && job.maxAttempts == 3)
        #expect(job.history.map(\.state) == [.submitted, .queued])
        #expect(job.time(of: .submitted) != nil && job.time(of: .queued) != nil)
        #expect(try await f.store.queues() == ["mail"])
        #expect(try await f.store.queueCounts() == [QueueCounts(queue: "mail", queued: 1)])
    }

    @Test(arguments: ContractKind.allCases)
    func fullLifecycleWithSeparateStart(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let id = try await f.store.submit([JobRequest(type: "t")])[0].id
        let claimed = try await f.store.claim(queues: ["default"], worker: "w1", max: 5, start: false)
        #expect(claimed.map(\.id) == [id])
        #expect(claimed[0].state == .assigned && claimed[0].attempt == 1)
        #expect(try await f.store.job(id, queue: "default")?.state == .assigned)
        #expect(try await f.store.queueCounts()[0].assigned == 1)
        #expect(try await f.store.start(claimed.map(\.lease), worker: "w1") == [.applied(.running)])
        #expect(try await f.store.queueCounts()[0].running == 1)
        let outcome = try await f.store.complete([CompletionReport(job: claimed[0], result: #"{"ok":true}"#)], worker: "w1")
        #expect(outcome == [.applied(.completed)])
        let job = try #require(try await f.store.job(id, queue: nil))
        #expect(job.state == .completed)
        #expect(job.result == #"{"ok":true}"#)
        #expect(job.worker == "w1")
        #expect(job.history.map(\.state) == [.submitted, .queued, .assigned, .running, .completed])
        #expect(job.history.last?.worker == "w1" && job.history.last?.attempt == 1)
        let counts = try await f.store.queueCounts()[0]
        #expect(counts.completed == 1 && counts.running == 0 && counts.assigned == 0 && counts.queued == 0)
    }

    @Test(arguments: ContractKind.allCases)
    func claimWithStartRunsAtOnceAndTakesInOrder(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let ids = try await f.store.submit((0..<5).map { JobRequest(type: "t", payload: "\($0)") }).map(\.id)
        let first = try await f.store.claim(queues: ["default"], worker: "w", max: 2, start: true)
        #expect(first.map(\.id) == Array(ids.prefix(2)))
        #expect(first.allSatisfy { $0.state == .running })
        let rest = try await f.store.claim(queues: ["default"], worker: "w", max: 10, start: true)
        #expect(rest.map(\.id) == Array(ids.dropFirst(2)))
        #expect(try await f.store.claim(queues: ["default"], worker: "w", max: 10, start: true).isEmpty)
        #expect(try await f.store.job(ids[0], queue: nil)?.history.map(\.state) == [.submitted, .queued, .assigned, .running])
    }

    @Test(arguments: ContractKind.allCases)
    func claimSweepsQueuesInOrder(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let low = try await f.store.submit([JobRequest(queue: "low", type: "t")])[0].id
        let high = try await f.store.submit([JobRequest(queue: "high", type: "t")])[0].id
        let claimed = try await f.store.claim(queues: ["high", "low"], worker: "w", max: 1, start: true)
        #expect(claimed.map(\.id) == [high])
        #expect(try await f.store.claim(queues: ["high", "low"], worker: "w", max: 1, start: true).map(\.id) == [low])
    }

    @Test(arguments: ContractKind.allCases)
    func refusedTransitionsChangeNothingAndAreCounted(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let id = try await f.store.submit([JobRequest(type: "t")])[0].id
        let assigned = try await f.store.claim(queues: ["default"], worker: "w1", max: 1, start: false)[0]

        // Not RUNNING yet: completing or failing with an error is refused.
        #expect(try await f.store.complete([CompletionReport(job: assigned, result: "1")], worker: "w1") == [.stale(current: .assigned)])
        #expect(try await f.store.fail([FailureReport(job: assigned, error: "x")], worker: "w1") == [.stale(current: .assigned)])
        // Another worker cannot start it.
        #expect(try await f.store.start([assigned.lease], worker: "w2") == [.stale(current: .assigned)])
        #expect(try await f.store.start([assigned.lease], worker: "w1") == [.applied(.running)])
        #expect(try await f.store.start([assigned.lease], worker: "w1") == [.stale(current: .running)])

        // Wrong worker, wrong attempt.
        #expect(try await f.store.complete([CompletionReport(job: assigned, result: "1")], worker: "w2") == [.stale(current: .running)])
        var wrongAttempt = assigned
        wrongAttempt.attempt = 7
        #expect(try await f.store.complete([CompletionReport(job: wrongAttempt, result: "1")], worker: "w1") == [.stale(current: .running)])

        #expect(try await f.store.complete([CompletionReport(job: assigned, result: "1")], worker: "w1") == [.applied(.completed)])
        // Terminal: nothing moves it any more.
        #expect(try await f.store.fail([FailureReport(job: assigned, error: "late")], worker: "w1") == [.stale(current: .completed)])
        // The completion again (its answer lost) is answered as it was, and changes nothing.
        #expect(try await f.store.complete([CompletionReport(job: assigned, result: "2")], worker: "w1") == [.applied(.completed)])
        await #expect(throws: JobError.illegalTransition(id: id, from: .completed, to: .queued)) {
            try await f.store.retryDeadLetter(id, queue: nil)
        }
        let missing = JobID()
        await #expect(throws: JobError.notFound(missing)) { try await f.store.retryDeadLetter(missing, queue: "default") }

        let job = try #require(try await f.store.job(id, queue: nil))
        #expect(job.state == .completed && job.result == "1")
        #expect(job.history.map(\.state) == [.submitted, .queued, .assigned, .running, .completed])
        #expect(try await f.store.queueCounts()[0].staleReports == 7)
        let stats = try #require(try await f.maintenance.statistics()["default"])
        #expect(stats["staleReports"] == 7 && stats["staleReports:t"] == 7)
        #expect(stats["submitted:t"] == 1 && stats["started:t"] == 1 && stats["completed:t"] == 1)
        let runtimeBuckets = stats.filter { $0.key.hasPrefix("runtime:t:") }.values.reduce(0, +)
        #expect(runtimeBuckets == 1)
    }

    @Test(arguments: ContractKind.allCases)
    func failuresRetryThenDeadLetterThenOperatorRetry(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let id = try await f.store.submit([JobRequest(type: "t", maxAttempts: 3, backoff: noDelay)])[0].id
        for attempt in 1...3 {
            let job = try #require(try await f.store.claim(queues: ["default"], worker: "w", max: 1, start: true).first)
            #expect(job.attempt == attempt)
            let outcome = try await f.store.fail([FailureReport(job: job, error: "boom \(attempt)")], worker: "w")
            #expect(outcome == [.applied(attempt < 3 ? .retryQueued : .deadLetter)])
            if attempt < 3 {
                #expect(try await f.maintenance.promoteDueJobs().promoted == 1)
            }
        }
        var job = try #require(try await f.store.job(id, queue: nil))
        #expect(job.state == .deadLetter)
        #expect(job.error == "boom 3")
        #expect(job.attemptsLeft == 0)
        let expected: [JobState] =
            [.submitted, .queued] + Array(repeating: [.assigned, .running, .failed, .retryQueued, .queued], count: 2).flatMap { $0 }
            + [.assigned, .running, .failed, .deadLetter]
        #expect(job.history.map(\.state) == expected)
        #expect(job.history.filter { $0.state == .failed }.map(\.error) == ["boom 1", "boom 2", "boom 3"])
        let stats = try #require(try await f.maintenance.statistics()["default"])
        #expect(stats["failed:t"] == 3 && stats["retried:t"] == 2 && stats["deadLettered:t"] == 1 && stats["started:t"] == 3)
        #expect(try await f.store.jobs(queue: "default", state: .deadLetter, limit: 10).map(\.id) == [id])
        #expect(try await f.store.queueCounts()[0].deadLetter == 1)

        try await f.store.retryDeadLetter(id, queue: nil)
        job = try #require(try await f.store.job(id, queue: nil))
        #expect(job.state == .queued && job.attemptsLeft == 3 && job.attempt == 3)
        #expect(try await f.store.queueCounts()[0].deadLetter == 0)
        let again = try #require(try await f.store.claim(queues: ["default"], worker: "w", max: 1, start: true).first)
        #expect(again.attempt == 4 && !again.isLastAttempt)
        // The operator's retry gave a fresh set: a failure now retries, by the one rule.
        #expect(again.attempts == Attempts(attempt: 4, attemptBase: 3, maxAttempts: 3) && again.attempts.left == 2)
        #expect(try await f.store.fail([FailureReport(job: again, error: "boom 4")], worker: "w") == [.applied(.retryQueued)])
    }

    @Test(arguments: ContractKind.allCases)
    func retryWaitsForItsBackoff(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let id = try await f.store.submit([JobRequest(type: "t", backoff: .fixed(ms: 60_000))])[0].id
        let job = try await f.store.claim(queues: ["default"], worker: "w", max: 1, start: true)[0]
        #expect(try await f.store.fail([FailureReport(job: job, error: "later")], worker: "w") == [.applied(.retryQueued)])
        let stored = try #require(try await f.store.job(id, queue: nil))
        let failedAt = try #require(stored.timestamps[JobState.failed.timestampField])
        #expect(stored.runAt == failedAt + 60_000)
        let report = try await f.maintenance.promoteDueJobs()
        #expect(report.promoted == 0)
        #expect(report.nextDueMs == stored.runAt)
        #expect(try await f.store.jobs(queue: "default", state: .retryQueued, limit: 5).map(\.id) == [id])
        #expect(try await f.store.claim(queues: ["default"], worker: "w", max: 1, start: true).isEmpty)
    }

    @Test(arguments: ContractKind.allCases)
    func queueDefaultsApplyToJobsWithoutTheirOwn(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        try await f.maintenance.setDefaults(QueueDefaults(maxAttempts: 7, backoff: .linear(baseMs: 10)), queue: "q")
        let ids = try await f.store.submit([
            JobRequest(queue: "q", type: "t"), JobRequest(queue: "q", type: "t", maxAttempts: 2, backoff: .fixed(ms: 5)),
            JobRequest(queue: "other", type: "t"),
        ]).map(\.id)
        let jobs = try await ids.asyncMap { try await f.store.job($0, queue: nil)! }
        #expect(jobs[0].maxAttempts == 7 && jobs[0].backoff == .linear(baseMs: 10))
        #expect(jobs[1].maxAttempts == 2 && jobs[1].backoff == .fixed(ms: 5))
        #expect(jobs[2].maxAttempts == QueueDefaults.standard.maxAttempts && jobs[2].backoff == .standard)
    }

    @Test(arguments: ContractKind.allCases)
    func idempotentSubmitReturnsTheFirstJob(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let first = try await f.store.submit([JobRequest(type: "t", idempotencyKey: "order-42")])[0]
        let again = try await f.store.submit([JobRequest(type: "t", payload: #"{"x":1}"#, idempotencyKey: "order-42")])[0]
        #expect(first.created && !again.created)
        #expect(first.id == again.id)
        // Within one batch too.
        let batch = try await f.store.submit([JobRequest(type: "t", idempotencyKey: "k"), JobRequest(type: "t", idempotencyKey: "k")])
        #expect(batch[0].id == batch[1].id && batch[0].created && !batch[1].created)
        // Keys are per queue.
        let elsewhere = try await f.store.submit([JobRequest(queue: "other", type: "t", idempotencyKey: "order-42")])[0]
        #expect(elsewhere.created && elsewhere.id != first.id)
        #expect(try await f.store.queueCounts().first { $0.queue == "default" }?.queued == 2)
    }

    @Test(arguments: ContractKind.allCases)
    func badInputIsRefusedAndLeavesNothingBehind(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind, limits: SubmitLimits(maxPayloadBytes: 64))
        defer { Task { await f.tearDown() } }
        let bad: [(JobRequest, String)] = [
            (JobRequest(queue: "", type: "t"), "queue"),
            (JobRequest(queue: "has space", type: "t"), "queue"),
            (JobRequest(queue: "brace{}", type: "t"), "queue"),
            (JobRequest(queue: String(repeating: "q", count: 65), type: "t"), "queue"),
            (JobRequest(type: ""), "type"),
            (JobRequest(type: "semi;colon"), "type"),
            (JobRequest(type: "t", payload: "{not json"), "JSON"),
            (JobRequest(type: "t", payload: ""), "JSON"),
            (JobRequest(type: "t", payload: "[" + String(repeating: "1,", count: 40) + "1]"), "limit"),
            (JobRequest(type: "t", maxAttempts: 0), "maxAttempts"),
            (JobRequest(type: "t", backoff: BackoffPolicy(strategy: .fixed, baseMs: -1)), "baseMs"),
            (JobRequest(type: "t", timeoutMs: 0), "timeoutMs"),
            (JobRequest(type: "t", idempotencyKey: "with space"), "idempotency"),
        ]
        for (request, mention) in bad {
            do {
                // A good request in the same batch must not be written either.
                _ = try await f.store.submit([JobRequest(type: "good"), request])
                Issue.record("accepted \(request)")
            } catch let error as JobError {
                #expect("\(error)".contains(mention), "\(error)")
            }
        }
        #expect(try await f.store.queueCounts().isEmpty)
        if let server = f.server {
            let redis = try server.client()
            defer { Task { await redis.close() } }
            #expect(try await redis.send("DBSIZE").int == 0)
        }
    }

    @Test(arguments: ContractKind.allCases)
    func trimRemovesExpiredCompletedJobsAndExcessDeadLetters(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(
            kind, retention: RetentionPolicy(completed: .zero, deadLetterMaxCount: 2),
            defaults: QueueDefaults(maxAttempts: 1, backoff: noDelay))
        defer { Task { await f.tearDown() } }
        let ids = try await f.store.submit((0..<4).map { _ in JobRequest(type: "t", idempotencyKey: nil) }).map(\.id)
        let doneID = try await f.store.submit([JobRequest(type: "t", idempotencyKey: "once")])[0].id
        let jobs = try await f.store.claim(queues: ["default"], worker: "w", max: 5, start: true)
        for job in jobs where job.id != doneID {
            _ = try await f.store.fail([FailureReport(job: job, error: "x")], worker: "w")
        }
        _ = try await f.store.complete([CompletionReport(job: jobs.first { $0.id == doneID }!, result: "1")], worker: "w")
        let report = try await f.maintenance.trim()
        #expect(report.completedRemoved == 1 && report.deadLettersRemoved == 2)
        #expect(try await f.store.job(doneID, queue: nil) == nil)
        // The two newest dead letters stay, the two oldest are gone with their hashes.
        let dead = try await f.store.jobs(queue: "default", state: .deadLetter, limit: 10).map(\.id)
        #expect(dead.count == 2)
        #expect(try await f.store.job(ids[0], queue: nil) == nil || dead.contains(ids[0]))
        #expect(try await f.store.queueCounts()[0].deadLetter == 2)
        // The idempotency key went with its job.
        #expect(try await f.store.submit([JobRequest(type: "t", idempotencyKey: "once")])[0].created)
        #expect(try await f.store.purgeDeadLetters(queue: "default") == 2)
        #expect(try await f.store.queueCounts()[0].deadLetter == 0)
    }

    @Test(arguments: ContractKind.allCases)
    func waitUntilFinishedWakesOnCompletionAndTimesOut(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let id = try await f.store.submit([JobRequest(type: "t")])[0].id
        let pending = try await f.store.waitUntilFinished(id, queue: nil, timeout: .milliseconds(50))
        #expect(pending?.state == .queued)

        let store = f.store
        async let waited = store.waitUntilFinished(id, queue: nil, timeout: .seconds(30))
        let job = try await store.waitAndClaim(queues: ["default"], worker: "w", max: 1, start: true, timeout: .seconds(5))[0]
        _ = try await store.complete([CompletionReport(job: job, result: "42")], worker: "w")
        let finished = try await waited
        #expect(finished?.state == .completed && finished?.result == "42")
        #expect(try await store.waitUntilFinished(JobID(), queue: "default", timeout: .seconds(1)) == nil)
    }

    @Test(arguments: ContractKind.allCases)
    func waitAndClaimBlocksUntilAJobArrives(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let store = f.store
        #expect(try await store.waitAndClaim(queues: ["a", "b"], worker: "w", max: 2, start: true, timeout: .milliseconds(100)).isEmpty)
        async let claimed = store.waitAndClaim(queues: ["a", "b"], worker: "w", max: 2, start: true, timeout: .seconds(30))
        // Submitted only once the fetch is waiting: the waiter must be woken, not find it at once.
        let started = ContinuousClock.now
        let id = try await store.submit([JobRequest(queue: "b", type: "t")])[0].id
        let got = try await claimed
        #expect(got.map(\.id) == [id])
        // Woken by the job, not by the 30 s timeout (the margin is for a loaded machine).
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(got.first?.state == .running)
        try await store.reconcile(worker: "w", queues: ["a", "b"], holding: Set(got.map(\.id)))
        // Nothing the still-blocked fetch of queue "a" might take is lost.
        let late = try await store.submit([JobRequest(queue: "a", type: "t")])[0].id
        let next = try await store.waitAndClaim(queues: ["a"], worker: "w2", max: 1, start: true, timeout: .seconds(30))
        #expect(next.map(\.id) == [late])
    }

    @Test(arguments: ContractKind.allCases)
    func listsJobsByState(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let ids = try await f.store.submit((0..<6).map { _ in JobRequest(type: "t") }).map(\.id)
        _ = try await f.store.claim(queues: ["default"], worker: "w", max: 2, start: true)
        try await f.store.heartbeat(worker("w"))
        #expect(try await f.store.jobs(queue: "default", state: .queued, limit: 10).map(\.id) == Array(ids.dropFirst(2)))
        let first = try await f.store.jobs(queue: "default", state: .queued, after: nil, limit: 1)
        #expect(try await f.store.jobs(queue: "default", state: .queued, after: first.next, limit: 2).jobs.map(\.id) == Array(ids[3...4]))
        #expect(Set(try await f.store.jobs(queue: "default", state: .running, limit: 10).map(\.id)) == Set(ids.prefix(2)))
        #expect(try await f.store.jobs(queue: "nope", state: .queued, limit: 10).isEmpty)
    }

    @Test(arguments: ContractKind.allCases)
    func historyIsCapped(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind, retention: RetentionPolicy(historyLimit: 4))
        defer { Task { await f.tearDown() } }
        let id = try await f.store.submit([JobRequest(type: "t", maxAttempts: 5, backoff: noDelay)])[0].id
        let job = try await f.store.claim(queues: ["default"], worker: "w", max: 1, start: true)[0]
        _ = try await f.store.fail([FailureReport(job: job, error: "e")], worker: "w")
        let stored = try #require(try await f.store.job(id, queue: nil))
        #expect(stored.history.map(\.state) == [.assigned, .running, .failed, .retryQueued])
    }
}
