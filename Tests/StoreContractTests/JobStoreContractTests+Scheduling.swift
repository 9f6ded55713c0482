import DroverCore
import DroverTestSupport
import Foundation
import Testing

// Delayed jobs and cancellation, on every store.
extension JobStoreContractTests {
    @Test(arguments: ContractKind.allCases)
    func aDelayedJobIsScheduledAndQueuedWhenDueNeverEarlier(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let submitted = try await f.store.submit([JobRequest(queue: "later", type: "t", start: .after(.milliseconds(400)))])[0]
        #expect(submitted.created && submitted.state == .scheduled)
        let job = try #require(try await f.store.job(submitted.id, queue: "later"))
        #expect(job.state == .scheduled && job.history.map(\.state) == [.submitted, .scheduled])
        let due = try #require(job.runAt)
        #expect(due - job.time(of: .submitted).map { Int64($0.timeIntervalSince1970 * 1000) }! == 400)
        #expect(try await f.store.queueCounts().first?.scheduled == 1)
        #expect(try await f.store.jobs(queue: "later", state: .scheduled, limit: 10).map(\.id) == [submitted.id])
        // Only the promoter queues it (none runs here): a claim finds nothing.
        #expect(try await f.store.claim(queues: ["later"], worker: "w", max: 1, start: true).isEmpty)
        // A job due in an hour stays SCHEDULED throughout.
        let later = try await f.store.submit([JobRequest(queue: "later", type: "t", start: .after(.seconds(3600)))])[0].id
        let laterDue = try #require(try await f.store.job(later, queue: "later")?.runAt)
        // Until the first is due (a loaded machine may be past it already): nothing to claim,
        // nothing promoted, and the promoter learns when to look.
        let early = try await f.maintenance.promoteDueJobs()
        if early.promoted == 0 {
            #expect(early.nextDueMs == due)
            try await Task.sleep(for: .milliseconds(due - early.nowMs!))
            #expect(try await f.maintenance.promoteDueJobs().promoted == 1)
        }
        #expect(try await f.maintenance.promoteDueJobs().nextDueMs == laterDue)
        #expect(try await f.store.job(later, queue: "later")?.state == .scheduled)
        let queued = try #require(try await f.store.job(submitted.id, queue: "later"))
        #expect(queued.state == .queued && queued.runAt == nil)
        #expect(queued.history.map(\.state) == [.submitted, .scheduled, .queued])
        #expect(queued.history.last!.at >= due, "queued \(due - queued.history.last!.at) ms early")
        #expect(try await f.store.claim(queues: ["later"], worker: "w", max: 1, start: true).map(\.id) == [submitted.id])
    }

    @Test(arguments: ContractKind.allCases)
    func aTimeAlreadyPastQueuesAtOnce(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let past = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
        let submitted = try await f.store.submit([JobRequest(type: "t", start: .at(epochMs: past))])[0]
        #expect(submitted.state == .queued)
        #expect(try await f.store.job(submitted.id, queue: nil)?.history.map(\.state) == [.submitted, .queued])
    }

    @Test(arguments: ContractKind.allCases)
    func badStartTimesAreRefusedAndNothingIsWritten(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        for start in [JobStart.after(.milliseconds(-1)), .after(JobStart.maxDelay + .seconds(1)), .at(epochMs: -5)] {
            await #expect(throws: JobError.self) { try await f.store.submit([JobRequest(type: "t", start: start)]) }
        }
        #expect(try await f.store.queueCounts().isEmpty)
    }

    @Test(arguments: ContractKind.allCases)
    func aJobThatHasNotStartedIsCancelledAtOnceWhereverItWaits(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let scheduled = try await f.store.submit([JobRequest(type: "t", start: .after(.seconds(3600)))])[0].id
        let queued = try await f.store.submit([JobRequest(type: "t")])[0].id
        let retried = try await f.store.submit([JobRequest(type: "r", backoff: .fixed(ms: 3_600_000))])[0].id
        let claimed = try await f.store.claim(queues: ["default"], worker: "w1", max: 1, start: true)
        #expect(claimed.map(\.id) == [queued])
        _ = try await f.store.fail([FailureReport(job: claimed[0], error: "boom")], worker: "w1")
        let queuedToo = try await f.store.submit([JobRequest(type: "t")])[0].id
        #expect(try await f.store.job(queued, queue: nil)?.state == .retryQueued)
        for (id, state) in [(scheduled, JobState.scheduled), (queued, .retryQueued), (queuedToo, .queued)] {
            #expect(try await f.store.cancel(id, queue: nil) == .cancelled)
            let job = try #require(try await f.store.job(id, queue: nil))
            #expect(job.state == .cancelled && job.history.suffix(2).map(\.state) == [state, .cancelled])
            #expect(job.runAt == nil)
            // Terminal: a second cancel is refused.
            await #expect(throws: JobError.illegalTransition(id: id, from: .cancelled, to: .cancelled)) {
                try await f.store.cancel(id, queue: nil)
            }
        }
        let counts = try #require(try await f.store.queueCounts().first)
        #expect(counts.cancelled == 3 && counts.scheduled == 0 && counts.queued == 1 && counts.retryQueued == 0)
        #expect(try await f.store.jobs(queue: "default", state: .cancelled, limit: 10).count == 3)
        // Never run again: not by a claim, not by the promoter.
        #expect(try await f.maintenance.promoteDueJobs().promoted == 0)
        #expect(try await f.store.claim(queues: ["default"], worker: "w2", max: 10, start: true).map(\.id) == [retried])
        #expect(try await f.maintenance.statistics()["default"]?["cancelled"] == 3)
        let missing = JobID()
        await #expect(throws: JobError.notFound(missing)) { try await f.store.cancel(missing, queue: "default") }
        _ = retried
    }

    @Test(arguments: ContractKind.allCases)
    func aRunningJobIsStoppedByItsWorkerAndEndsCancelledWhateverItReports(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        _ = try await f.store.submit([JobRequest(type: "a"), JobRequest(type: "b"), JobRequest(type: "c")])
        let claimed = try await f.store.claim(queues: ["default"], worker: "w1", max: 3, start: true)
        #expect(claimed.count == 3)
        // The worker listens before the cancel is sent, as a running worker always does.
        #expect(try await f.store.cancelRequests(worker: "w1", timeout: .zero).isEmpty)
        for job in claimed { #expect(try await f.store.cancel(job.id, queue: nil) == .stopping(worker: "w1")) }
        var told: Set<JobID> = []
        while told.count < 3 {
            let ids = try await f.store.cancelRequests(worker: "w1", timeout: .seconds(10))
            #expect(!ids.isEmpty, "the worker was not told")
            if ids.isEmpty { break }
            told.formUnion(ids)
        }
        #expect(told == Set(claimed.map(\.id)))
        #expect(try await f.store.job(claimed[0].id, queue: nil)?.cancelRequestedAt != nil)
        // Whether the handler stopped (a failure), finished anyway, or the worker was lost.
        #expect(
            try await f.store.fail([FailureReport(job: claimed[0], error: "CancellationError()")], worker: "w1") == [.applied(.cancelled)])
        #expect(try await f.store.complete([CompletionReport(job: claimed[1], result: "7")], worker: "w1") == [.applied(.cancelled)])
        let reaped = try await f.maintenance.reapLostWorkers(heartbeatTimeout: everyoneIsLost)
        #expect(reaped.failedJobs == [claimed[2].id])
        for job in claimed {
            let stored = try #require(try await f.store.job(job.id, queue: nil))
            #expect(stored.state == .cancelled && stored.history.suffix(2).map(\.state) == [.running, .cancelled])
        }
        #expect(try await f.store.job(claimed[1].id, queue: nil)?.result == "7")
        // A late report changes nothing.
        #expect(try await f.store.complete([CompletionReport(job: claimed[0], result: "1")], worker: "w1") == [.stale(current: .cancelled)])
        #expect(try await f.store.queueCounts().first?.cancelled == 3)
        let waited = try await f.store.waitUntilFinished(claimed[0].id, queue: nil, timeout: .seconds(5))
        #expect(waited?.state == .cancelled)
    }
}
