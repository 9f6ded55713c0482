import DroverCore
import DroverTestSupport
import Foundation
import Testing

// Priorities within a queue, on every store.
extension JobStoreContractTests {
    @Test(arguments: ContractKind.allCases)
    func higherPrioritiesStartFirstAndEqualOnesKeepTheirOrder(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        var ids: [String: JobID] = [:]
        for (name, priority) in [("a", 0), ("b", 5), ("c", 9), ("d", 5)] {
            ids[name] = try await f.store.submit([JobRequest(type: name, priority: priority)])[0].id
        }
        // A batch too, default priority included.
        let batch = try await f.store.submit([JobRequest(type: "e"), JobRequest(type: "f", priority: 9)]).map(\.id)
        ids["e"] = batch[0]
        ids["f"] = batch[1]
        let expected = ["c", "f", "b", "d", "a", "e"].map { ids[$0]! }
        #expect(try await f.store.queueCounts().first?.queued == 6)
        #expect(try await f.store.jobs(queue: "default", state: .queued, limit: 10).map(\.id) == expected)
        let first = try await f.store.jobs(queue: "default", state: .queued, after: nil, limit: 2)
        #expect(
            try await f.store.jobs(queue: "default", state: .queued, after: first.next, limit: 2).jobs.map(\.id) == Array(expected[2..<4]))
        #expect(try await f.store.job(ids["b"]!, queue: nil)?.priority == 5)
        var taken: [JobID] = []
        for _ in 0..<3 { taken += try await f.store.claim(queues: ["default"], worker: "w", max: 1, start: true).map(\.id) }
        taken += try await f.store.claim(queues: ["default"], worker: "w", max: 10, start: true).map(\.id)
        #expect(taken == expected)
        #expect(try await f.store.queueCounts().first?.queued == 0)
        #expect(try await f.store.claim(queues: ["default"], worker: "w", max: 10, start: true).isEmpty)
    }

    @Test(arguments: ContractKind.allCases)
    func aPrioritizedJobKeepsItsPriorityThroughRetryPauseAndCancel(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let urgent = try await f.store.submit([JobRequest(type: "u", backoff: .fixed(ms: 0), priority: 7)])[0].id
        let claimed = try await f.store.claim(queues: ["default"], worker: "w", max: 1, start: true)
        #expect(claimed.map(\.id) == [urgent])
        let plain = try await f.store.submit([JobRequest(type: "p")])[0].id
        let doomed = try await f.store.submit([JobRequest(type: "d", priority: 8)])[0].id
        #expect(try await f.store.cancel(doomed, queue: nil) == .cancelled)
        _ = try await f.store.fail([FailureReport(job: claimed[0], error: "again")], worker: "w")
        while try await f.store.job(urgent, queue: nil)?.state == .retryQueued { _ = try await f.maintenance.promoteDueJobs() }
        try await f.store.pause(queue: "default")
        #expect(try await f.store.claim(queues: ["default"], worker: "w", max: 10, start: true).isEmpty)
        #expect(try await f.store.queueCounts().first?.queued == 2)
        try await f.store.resume(queue: "default")
        // The retried job is still ahead of the plain one; the cancelled one never comes.
        #expect(try await f.store.claim(queues: ["default"], worker: "w", max: 10, start: true).map(\.id) == [urgent, plain])
    }

    @Test(arguments: ContractKind.allCases)
    func aFetchWaitingOnAnEmptyQueueWakesForAPrioritizedJob(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        _ = try await f.store.submit([JobRequest(type: "t")])
        _ = try await f.store.claim(queues: ["default"], worker: "w", max: 1, start: true)
        let store = f.store
        let waiting = Task { try await store.waitAndClaim(queues: ["default"], worker: "w2", max: 4, start: true, timeout: .seconds(30)) }
        let submitted = ContinuousClock.now
        let id = try await f.store.submit([JobRequest(type: "t", priority: 3)])[0].id
        #expect(try await waiting.value.map(\.id) == [id])
        #expect(ContinuousClock.now - submitted < .seconds(10), "the waiting fetch was not woken")
        #expect(try await f.store.queueCounts().first?.queued == 0)
    }

    @Test(arguments: ContractKind.allCases)
    func aQueuesDefaultPriorityAppliesAndPrioritiesOutOfRangeAreRefused(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        for priority in [-1, 10] {
            await #expect(throws: JobError.self) { try await f.store.submit([JobRequest(type: "t", priority: priority)]) }
        }
        #expect(try await f.store.queueCounts().isEmpty)
        await #expect(throws: JobError.self) {
            try await f.maintenance.setDefaults(QueueDefaults(priority: 10), queue: "default")
        }
        try await f.maintenance.setDefaults(QueueDefaults(priority: 4), queue: "default")
        let low = try await f.store.submit([JobRequest(type: "t", priority: 0)])[0].id
        let byDefault = try await f.store.submit([JobRequest(type: "t")])[0].id
        #expect(try await f.store.job(byDefault, queue: nil)?.priority == 4)
        #expect(try await f.store.claim(queues: ["default"], worker: "w", max: 2, start: true).map(\.id) == [byDefault, low])
    }
}
