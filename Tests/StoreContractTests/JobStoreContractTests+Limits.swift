import DroverCore
import DroverTestSupport
import Foundation
import Testing

// Rate and concurrency limits per queue, on every store.
extension JobStoreContractTests {
    @Test(arguments: ContractKind.allCases)
    func aConcurrencyLimitCapsTheJobsHeldAtOnceAcrossWorkers(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let ids = try await f.store.submit((0..<5).map { _ in JobRequest(queue: "mail", type: "send") }).map(\.id)
        try await f.store.setLimits(QueueLimits(concurrency: 2), queue: "mail")
        #expect(try await f.store.queueCounts().first?.limits == QueueLimits(concurrency: 2))

        // ASSIGNED counts as held, as RUNNING does.
        let first = try await f.store.claim(queues: ["mail"], worker: "w1", max: 5, start: false)
        #expect(first.map(\.id) == Array(ids.prefix(2)))
        #expect(try await f.store.claim(queues: ["mail"], worker: "w2", max: 5, start: true).isEmpty)
        // A held-back job waits QUEUED with its attempts untouched.
        let waiting = try #require(try await f.store.job(ids[2], queue: "mail"))
        #expect(waiting.state == .queued && waiting.attempt == 0)

        _ = try await f.store.start(first.map(\.lease), worker: "w1")
        #expect(try await f.store.complete([CompletionReport(job: first[0], result: "1")], worker: "w1") == [.applied(.completed)])
        #expect(try await f.store.claim(queues: ["mail"], worker: "w2", max: 5, start: true).map(\.id) == [ids[2]])
        // A failure frees its slot too, whatever comes of the job (this one is retried).
        #expect(try await f.store.fail([FailureReport(job: first[1], error: "boom")], worker: "w1") == [.applied(.retryQueued)])
        #expect(try await f.store.claim(queues: ["mail"], worker: "w2", max: 5, start: true).map(\.id) == [ids[3]])

        try await f.store.setLimits(.none, queue: "mail")
        #expect(try await f.store.queueCounts().first?.limits == nil)
        #expect(try await f.store.claim(queues: ["mail"], worker: "w2", max: 5, start: true).map(\.id) == [ids[4]])
    }

    @Test(arguments: ContractKind.allCases)
    func aRateLimitStartsNoMoreThanItsTokens(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let ids = try await f.store.submit((0..<10).map { _ in JobRequest(queue: "api", type: "call") }).map(\.id)
        // Three per minute: no token comes back while the test runs.
        let limits = QueueLimits(rate: .init(count: 3, periodMs: 60_000))
        try await f.store.setLimits(limits, queue: "api")
        #expect(try await f.store.queueCounts().first?.limits == limits)

        #expect(try await f.store.claim(queues: ["api"], worker: "w1", max: 2, start: true).map(\.id) == Array(ids.prefix(2)))
        #expect(try await f.store.claim(queues: ["api"], worker: "w2", max: 10, start: true).map(\.id) == [ids[2]])
        #expect(try await f.store.claim(queues: ["api"], worker: "w3", max: 10, start: true).isEmpty)
        #expect(try await f.store.waitAndClaim(queues: ["api"], worker: "w3", max: 10, start: true, timeout: .milliseconds(200)).isEmpty)
        let counts = try #require(try await f.store.queueCounts().first)
        #expect(counts.queued == 7 && counts.running == 3)

        try await f.store.setLimits(.none, queue: "api")
        #expect(try await f.store.claim(queues: ["api"], worker: "w3", max: 10, start: true).map(\.id) == Array(ids.dropFirst(3)))
    }

    @Test(arguments: ContractKind.allCases)
    func aWaitingClaimOnARateLimitedQueueTakesTheNextTokenNeverSooner(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        _ = try await f.store.submit((0..<3).map { _ in JobRequest(queue: "api", type: "call") })
        try await f.store.setLimits(QueueLimits(rate: .init(count: 1, periodMs: 300)), queue: "api")
        var startedAt: [Int64] = []
        for _ in 0..<3 {
            let claimed = try await f.store.waitAndClaim(queues: ["api"], worker: "w", max: 3, start: true, timeout: .seconds(20))
            #expect(claimed.count == 1)
            let id = try #require(claimed.first).id
            let job = try #require(try await f.store.job(id, queue: "api"))
            startedAt.append(try #require(job.timestamps[JobState.running.timestampField]))
        }
        // By the store's clock: one token per 300 ms, none early. (A token taken late leaves its
        // lateness in the bucket, so the next may come sooner than 300 ms after it: what holds
        // is the count since the first.)
        #expect(startedAt.indices.allSatisfy { startedAt[$0] - startedAt[0] >= 300 * Int64($0) }, "\(startedAt)")
    }

    @Test(arguments: ContractKind.allCases)
    func aWaitingClaimOnAConcurrencyLimitedQueueWakesWhenASlotFrees(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let ids = try await f.store.submit((0..<2).map { _ in JobRequest(queue: "mail", type: "send") }).map(\.id)
        try await f.store.setLimits(QueueLimits(concurrency: 1), queue: "mail")
        let running = try #require(try await f.store.claim(queues: ["mail"], worker: "w1", max: 1, start: true).first)
        let store = f.store
        let waiting = Task { try await store.waitAndClaim(queues: ["mail"], worker: "w2", max: 1, start: true, timeout: .seconds(30)) }
        // The waiting claim is to take nothing while the slot is held: only time can show it.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await f.store.job(ids[1], queue: "mail")?.state == .queued)
        _ = try await f.store.complete([CompletionReport(job: running, result: "1")], worker: "w1")
        #expect(try await waiting.value.map(\.id) == [ids[1]])
    }

    @Test(arguments: ContractKind.allCases)
    func limitsBelowOneOrOnAQueueThatDoesNotExistAreRefused(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        _ = try await f.store.submit([JobRequest(queue: "mail", type: "send")])
        for bad in [
            QueueLimits(rate: .init(count: 0)), QueueLimits(rate: .init(count: -5)), QueueLimits(rate: .init(count: 5, periodMs: 0)),
            QueueLimits(concurrency: 0), QueueLimits(concurrency: -1),
        ] {
            await #expect(throws: JobError.self, "\(bad)") { try await f.store.setLimits(bad, queue: "mail") }
        }
        await #expect(throws: JobError.unknownQueue("nope")) { try await f.store.setLimits(QueueLimits(concurrency: 1), queue: "nope") }
        #expect(try await f.store.queueCounts().map(\.queue) == ["mail"])
        #expect(try await f.store.queueCounts().first?.limits == nil)
        #expect(try await f.store.claim(queues: ["mail"], worker: "w", max: 5, start: true).count == 1)
    }
}
