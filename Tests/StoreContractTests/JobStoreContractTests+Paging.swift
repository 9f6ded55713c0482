import DroverCore
import DroverTestSupport
import Foundation
import Testing

// Pages of jobs by cursor, and the throughput history, on every store.
extension JobStoreContractTests {
    /// Every page of a listing, `limit` at a time, and the pages' sizes.
    func allPages(_ store: any JobStore, queue: String = "default", state: JobState, limit: Int) async throws -> (ids: [JobID], pages: Int)
    {
        var ids: [JobID] = []
        var cursor: JobCursor?
        var pages = 0
        repeat {
            let page = try await store.jobs(queue: queue, state: state, after: cursor, limit: limit)
            ids += page.jobs.map(\.id)
            pages += 1
            cursor = page.next
            #expect(pages <= 100, "the cursor does not move on")
        } while cursor != nil && pages <= 100
        return (ids, pages)
    }

    @Test(arguments: ContractKind.allCases)
    func pagesOfQueuedJobsFollowTheRunOrderPrioritizedFirstAndEndWithoutANext(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let plain = try await f.store.submit((0..<7).map { _ in JobRequest(type: "p") }).map(\.id)
        // Distinct priorities: equal ones submitted in one millisecond tie by id in Redis.
        let urgent = try await f.store.submit((0..<4).map { JobRequest(type: "u", priority: 9 - $0) }).map(\.id)
        let expected = urgent + plain
        #expect(try await f.store.jobs(queue: "default", state: .queued, limit: 100).map(\.id) == expected)
        // Page sizes that end inside the prioritized part, on its last job, and past it.
        for limit in [1, 3, 4, 5, 11] {
            let (ids, pages) = try await allPages(f.store, state: .queued, limit: limit)
            #expect(ids == expected, "pages of \(limit)")
            #expect(pages == (expected.count + limit - 1) / limit, "pages of \(limit)")
        }
        // The same while the queue is paused: its line is elsewhere, its order the same.
        try await f.store.pause(queue: "default")
        #expect(try await allPages(f.store, state: .queued, limit: 3).ids == expected)
    }

    @Test(arguments: ContractKind.allCases)
    func aCursorContinuesAfterItsJobWhileJobsAreTakenFromTheFrontOfTheLine(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let ids = try await f.store.submit((0..<20).map { _ in JobRequest(type: "t") }).map(\.id)
        let first = try await f.store.jobs(queue: "default", state: .queued, after: nil, limit: 5)
        #expect(first.jobs.map(\.id) == Array(ids[0..<5]))
        // Three are taken and two more arrive behind: an offset would now skip three jobs.
        let taken = try await f.store.claim(queues: ["default"], worker: "w", max: 3, start: true).map(\.id)
        #expect(taken == Array(ids[0..<3]))
        let late = try await f.store.submit((0..<2).map { _ in JobRequest(type: "t") }).map(\.id)
        let second = try await f.store.jobs(queue: "default", state: .queued, after: first.next, limit: 5)
        #expect(second.jobs.map(\.id) == Array(ids[5..<10]))
        // Its job taken too (and every one before it): the next page starts at the front.
        _ = try await f.store.claim(queues: ["default"], worker: "w", max: 8, start: true)
        let third = try await f.store.jobs(queue: "default", state: .queued, after: second.next, limit: 100)
        #expect(third.jobs.map(\.id) == Array(ids[11...]) + late)
        #expect(third.next == nil)
    }

    @Test(arguments: ContractKind.allCases)
    func aCursorInFinishedJobsIsNotShiftedByJobsFinishingMeanwhile(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        var completed: [JobID] = []
        func complete(_ n: Int) async throws {
            _ = try await f.store.submit((0..<n).map { _ in JobRequest(type: "t") })
            for _ in 0..<n {
                let job = try await f.store.claim(queues: ["default"], worker: "w", max: 1, start: true)[0]
                _ = try await f.store.complete([CompletionReport(job: job, result: "null")], worker: "w")
                completed.append(job.id)
            }
        }
        try await complete(9)
        let newestFirst = try await f.store.jobs(queue: "default", state: .completed, limit: 100).map(\.id)
        #expect(Set(newestFirst) == Set(completed))
        #expect(try await allPages(f.store, state: .completed, limit: 2).ids == newestFirst)
        let first = try await f.store.jobs(queue: "default", state: .completed, after: nil, limit: 4)
        try await complete(3)
        let second = try await f.store.jobs(queue: "default", state: .completed, after: first.next, limit: 100)
        // What follows the first page's last job now: the older jobs (and any of the new ones
        // that finished in the same millisecond and sort below it), none of the first page again.
        let now = try await f.store.jobs(queue: "default", state: .completed, limit: 100).map(\.id)
        let after = try #require(now.firstIndex(of: first.jobs[3].id)) + 1
        #expect(second.jobs.map(\.id) == Array(now[after...]))
        #expect(Set(newestFirst[4...]).isSubset(of: Set(second.jobs.map(\.id))))
        #expect(second.next == nil)
        // A cursor that is not one is refused, not read as the start.
        #expect(JobCursor("x5:\(JobID())") == nil && JobCursor("r5") == nil && JobCursor("r-1:\(JobID())") == nil)
        let cursor = try #require(first.next)
        #expect(JobCursor(cursor.description) == cursor)
    }

    @Test(arguments: ContractKind.allCases)
    func theThroughputHistoryHoldsOneSampleASecondOfTheLifetimeCounters(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        _ = try await f.store.submit((0..<3).map { _ in JobRequest(type: "t", maxAttempts: 1) })
        let jobs = try await f.store.claim(queues: ["default"], worker: "w", max: 3, start: true)
        _ = try await f.store.complete(jobs.prefix(2).map { CompletionReport(job: $0, result: "null") }, worker: "w")
        _ = try await f.store.fail([FailureReport(job: jobs[2], error: "no")], worker: "w")
        // A master may have sampled this second before the jobs ended: a later second's holds them all.
        var newest: ThroughputSample?
        let sampled = try await eventually {
            try await f.maintenance.sampleThroughput()
            newest = try await f.store.throughput(since: nil).first { $0.queue == "default" }?.samples.last
            return newest?.failed == 1
        }
        #expect(sampled)
        #expect(newest?.completed == 2 && newest?.deadLettered == 1)
        let at = try #require(newest?.at)
        #expect(at % 1000 == 0)
        // Sampling again within a second adds nothing; `since` leaves out what was read.
        try await f.maintenance.sampleThroughput()
        let samples = try await f.store.throughput(since: nil).first { $0.queue == "default" }?.samples ?? []
        #expect(Set(samples.map(\.at)).count == samples.count)
        #expect(samples.map(\.at) == samples.map(\.at).sorted())
        // The next second's sample, and only it, is after `at`.
        var later: [ThroughputSample] = []
        #expect(
            try await eventually {
                try await f.maintenance.sampleThroughput()
                later = try await f.store.throughput(since: at).first { $0.queue == "default" }?.samples ?? []
                return !later.isEmpty
            })
        #expect(later.allSatisfy { $0.at > at } && later.first?.completed == 2 && later.first?.failed == 1)
    }
}
