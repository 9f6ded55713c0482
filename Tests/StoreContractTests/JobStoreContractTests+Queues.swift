import DroverCore
import DroverTestSupport
import Foundation
import Testing

// Pausing and resuming queues, on every store.
extension JobStoreContractTests {
    @Test(arguments: ContractKind.allCases)
    func aPausedQueueAcceptsJobsButStartsNoneUntilResumed(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        _ = try await f.store.submit([JobRequest(queue: "p", type: "a"), JobRequest(queue: "p", type: "b", backoff: .fixed(ms: 0))])
        let other = try await f.store.submit([JobRequest(queue: "other", type: "t")])[0].id
        let running = try await f.store.claim(queues: ["p"], worker: "w1", max: 2, start: true)
        #expect(running.count == 2)

        try await f.store.pause(queue: "p")
        try await f.store.pause(queue: "p")  // Pausing twice changes nothing.
        // Submits are accepted; a retry and a delayed job still come due; none starts.
        let submitted = try await f.store.submit([JobRequest(queue: "p", type: "c")])[0]
        #expect(submitted.created && submitted.state == .queued)
        let delayed = try await f.store.submit([JobRequest(queue: "p", type: "d", start: .after(.milliseconds(1)))])[0].id
        // Jobs already running finish, whichever way.
        #expect(try await f.store.complete([CompletionReport(job: running[0], result: "1")], worker: "w1") == [.applied(.completed)])
        #expect(try await f.store.fail([FailureReport(job: running[1], error: "again")], worker: "w1") == [.applied(.retryQueued)])
        while try await f.store.job(delayed, queue: "p")?.state == .scheduled {
            _ = try await f.maintenance.promoteDueJobs()
        }
        #expect(try await f.store.job(running[1].id, queue: "p")?.state == .queued)
        #expect(try await f.store.claim(queues: ["p", "other"], worker: "w2", max: 10, start: true).map(\.id) == [other])
        #expect(try await f.store.waitAndClaim(queues: ["p"], worker: "w2", max: 10, start: true, timeout: .zero).isEmpty)
        let counts = try #require(try await f.store.queueCounts().first { $0.queue == "p" })
        #expect(counts.paused && counts.queued == 3 && counts.running == 0)
        #expect(try await f.store.queueCounts().first { $0.queue == "other" }?.paused == false)
        let line = try await f.store.jobs(queue: "p", state: .queued, limit: 10).map(\.id)
        #expect(line.count == 3 && line.first == submitted.id)

        try await f.store.resume(queue: "p")
        try await f.store.resume(queue: "p")
        #expect(try await f.store.queueCounts().first { $0.queue == "p" }?.paused == false)
        // In the order they would have run.
        #expect(try await f.store.claim(queues: ["p"], worker: "w2", max: 10, start: true).map(\.id) == line)
    }

    @Test(arguments: ContractKind.allCases)
    func aFetchWaitingOnAPausedQueueTakesNothingAndWakesWhenItIsResumed(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        _ = try await f.store.submit([JobRequest(queue: "p", type: "t")])
        _ = try await f.store.claim(queues: ["p"], worker: "w", max: 1, start: true)
        try await f.store.pause(queue: "p")
        let store = f.store
        let waiting = Task { try await store.waitAndClaim(queues: ["p"], worker: "w2", max: 1, start: true, timeout: .seconds(30)) }
        let id = try await f.store.submit([JobRequest(queue: "p", type: "t")])[0].id
        // Nothing is to happen, so only time can show it: the fetch is still waiting.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await f.store.job(id, queue: "p")?.state == .queued)
        let resumed = ContinuousClock.now
        try await f.store.resume(queue: "p")
        #expect(try await waiting.value.map(\.id) == [id])
        #expect(ContinuousClock.now - resumed < .seconds(10), "the waiting fetch was not woken by the resume")
    }

    @Test(arguments: ContractKind.allCases)
    func pausingAQueueThatDoesNotExistIsRefused(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        await #expect(throws: JobError.unknownQueue("nope")) { try await f.store.pause(queue: "nope") }
        await #expect(throws: JobError.unknownQueue("nope")) { try await f.store.resume(queue: "nope") }
        await #expect(throws: JobError.self) { try await f.store.pause(queue: "bad name!") }
        #expect(try await f.store.queueCounts().isEmpty)
    }
}
