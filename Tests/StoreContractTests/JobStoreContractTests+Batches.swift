import DroverCore
import DroverTestSupport
import Foundation
import Testing

/// The contract of batches: callbacks that run once every member has ended, with the members'
/// outcomes, and open batches that take members until they are closed.
extension JobStoreContractTests {
    func member(_ n: Int, attempts: Int = 3) -> JobRequest {
        JobRequest(queue: "flow", type: "member", payload: #"{"n":\#(n)}"#, maxAttempts: attempts, backoff: noDelay)
    }

    var callback: JobRequest { JobRequest(queue: "flow", type: "callback", backoff: noDelay) }

    /// Claims every queued member and ends each: completed with its name as the result, or
    /// failed when its name is in `failing`. Returns the names ended.
    func endMembers(_ f: ContractFixture, _ batch: SubmittedWorkflow, failing: Set<String> = []) async throws -> [String] {
        let names = names(batch)
        let claimed = try await f.store.claim(queues: ["flow"], worker: "w", max: 1000, start: true)
        let completing = claimed.filter { !failing.contains(names[$0.id] ?? "") }
        let failed = claimed.filter { failing.contains(names[$0.id] ?? "") }
        if !completing.isEmpty {
            _ = try await f.store.complete(
                completing.map { CompletionReport(job: $0, result: JSONScanner.quote(names[$0.id]!)) }, worker: "w")
        }
        if !failed.isEmpty { _ = try await f.store.fail(failed.map { FailureReport(job: $0, error: "boom") }, worker: "w") }
        return claimed.map { names[$0.id] ?? "?" }.sorted()
    }

    @Test(arguments: ContractKind.allCases)
    func aBatchRunsItsCallbacksOnceEveryMemberHasEndedWithTheirOutcomes(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let batch = try await f.store.createBatch(
            BatchRequest(
                queue: "flow", name: "newsletter", jobs: [member(1), member(2, attempts: 1), member(3)], onComplete: callback,
                onSuccess: callback))
        let ids = batch.jobs
        #expect(Set(ids.keys) == ["1", "2", "3", "onComplete", "onSuccess"])
        var status = try #require(try await f.store.workflow(batch.id, queue: nil))
        #expect(status.batch == .closed && status.name == "newsletter")
        #expect(status.jobs.map(\.dependsOn) == [[], [], [], ["1", "2", "3"], ["1", "2", "3"]])

        #expect(try await endMembers(f, batch, failing: ["2"]) == ["1", "2", "3"])
        // Every member has ended: onComplete runs, with what each did; onSuccess waits for the
        // dead member's retry.
        let complete = try await f.store.claim(queues: ["flow"], worker: "w", max: 10, start: true)
        #expect(complete.map(\.id) == [ids["onComplete"]!])
        #expect(complete[0].parentResults == ["1": #""1""#, "3": #""3""#])
        #expect(complete[0].failedParents == ["2": ParentFailure(state: .deadLetter, error: "boom")])
        _ = try await f.store.complete([CompletionReport(job: complete[0], result: "1")], worker: "w")
        #expect(try await f.store.job(ids["onSuccess"]!, queue: nil)?.state == .waiting)
        #expect(try await f.store.workflow(batch.id, queue: nil)?.state == .blocked)

        try await f.store.retryDeadLetter(ids["2"]!, queue: nil)
        #expect(try await endMembers(f, batch) == ["2"])
        let success = try await f.store.claim(queues: ["flow"], worker: "w", max: 10, start: true)
        #expect(success.map(\.id) == [ids["onSuccess"]!] && success[0].parentResults.count == 3 && success[0].failedParents.isEmpty)
        _ = try await f.store.complete([CompletionReport(job: success[0], result: "1")], worker: "w")
        status = try #require(try await f.store.workflow(batch.id, queue: nil))
        #expect(status.state == .completed && status.finishedAt != nil)
    }

    @Test(arguments: ContractKind.allCases)
    func anOpenBatchTakesMembersAndHoldsItsCallbackUntilClosed(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        var batch = try await f.store.createBatch(BatchRequest(queue: "flow", jobs: [member(1)], onComplete: callback, open: true))
        #expect(try await f.store.workflow(batch.id, queue: nil)?.batch == .open)
        #expect(try await endMembers(f, batch) == ["1"])
        // Every member has ended, but the batch is open: the callback waits.
        #expect(try await f.store.job(batch.jobs["onComplete"]!, queue: nil)?.state == .waiting)

        let added = try await f.store.addToBatch(batch.id, queue: nil, jobs: [member(2), member(3)], close: false)
        #expect(Set(added.jobs.keys) == ["2", "3"] && added.batch == .open)
        batch.jobs.merge(added.jobs) { $1 }
        #expect(try await endMembers(f, batch) == ["2", "3"])
        #expect(try await f.store.job(batch.jobs["onComplete"]!, queue: nil)?.state == .waiting)
        let empty = try await f.store.addToBatch(batch.id, queue: "flow", jobs: [], close: false)
        #expect(empty == BatchAddition(jobs: [:], batch: .open))

        #expect(try await f.store.addToBatch(batch.id, queue: nil, jobs: [], close: true) == BatchAddition(jobs: [:], batch: .closed))
        let claimed = try await f.store.claim(queues: ["flow"], worker: "w", max: 10, start: true)
        #expect(claimed.map(\.id) == [batch.jobs["onComplete"]!])
        #expect(claimed[0].parentResults == ["1": #""1""#, "2": #""2""#, "3": #""3""#])
        let status = try #require(try await f.store.workflow(batch.id, queue: nil))
        #expect(status.batch == .closed && status.jobs.map(\.name) == ["1", "2", "3", "onComplete"])
        #expect(status.jobs.last?.dependsOn == ["1", "2", "3"])

        // Closing again changes nothing; adding to a closed batch is refused, nothing written.
        #expect(try await f.store.addToBatch(batch.id, queue: nil, jobs: [], close: true) == BatchAddition(jobs: [:], batch: .closed))
        await #expect(throws: JobError.batchClosed(batch.id)) {
            _ = try await f.store.addToBatch(batch.id, queue: nil, jobs: [member(4)], close: false)
        }
        #expect(try await f.store.workflow(batch.id, queue: nil)?.jobs.count == 4)
        #expect(try await f.store.queueCounts().first { $0.queue == "flow" }?.queued == 0)
    }

    @Test(arguments: ContractKind.allCases)
    func badBatchesAreRefusedWithNothingWritten(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let bad: [(BatchRequest, String)] = [
            (BatchRequest(queue: "flow", jobs: [member(1)]), "onComplete, onSuccess"),
            (BatchRequest(queue: "flow", jobs: [], onComplete: callback), "at least one job"),
            (BatchRequest(queue: "flow", jobs: [JobRequest(queue: "other", type: "t")], onComplete: callback), "every job of a workflow"),
            (
                BatchRequest(queue: "flow", jobs: [JobRequest(queue: "flow", type: "t", idempotencyKey: "k")], onComplete: callback),
                "idempotencyKey"
            ),
        ]
        for (request, reason) in bad {
            await #expect {
                _ = try await f.store.createBatch(request)
            } throws: { error in
                guard case .invalidWorkflow(let message) = error as? JobError else { return false }
                return message.contains(reason)
            }
        }
        let unknown = JobID()
        await #expect(throws: JobError.unknownWorkflow(unknown)) {
            _ = try await f.store.addToBatch(unknown, queue: "flow", jobs: [member(1)], close: false)
        }
        let workflow = try await f.store.submitWorkflow(WorkflowRequest(queue: "flow", jobs: [node("a")]))
        await #expect(throws: JobError.batchClosed(workflow.id)) {
            _ = try await f.store.addToBatch(workflow.id, queue: nil, jobs: [member(1)], close: true)
        }
        let open = try await f.store.createBatch(BatchRequest(queue: "flow", jobs: [], onSuccess: callback, open: true))
        await #expect(throws: JobError.self) {
            _ = try await f.store.addToBatch(open.id, queue: nil, jobs: [JobRequest(queue: "other", type: "t")], close: false)
        }
        #expect(try await f.store.workflow(open.id, queue: nil)?.jobs.map(\.name) == ["onSuccess"])
        #expect(try await f.store.queueCounts().first { $0.queue == "flow" }.map { ($0.queued, $0.waiting) } ?? (0, 0) == (1, 1))
    }

    @Test(arguments: ContractKind.allCases)
    func aBatchCallbackIsQueuedOnceWhileThreeWorkersRaceToFinishTheLastMembers(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let batch = try await f.store.createBatch(
            BatchRequest(queue: "flow", jobs: (1...30).map { member($0) }, onComplete: callback, onSuccess: callback))
        var held: [(String, [ClaimedJob])] = []
        for worker in ["a", "b", "c"] {
            held.append((worker, try await f.store.claim(queues: ["flow"], worker: worker, max: 10, start: true)))
        }
        #expect(held.map(\.1.count) == [10, 10, 10])
        // Each worker reports its members one at a time, all three at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (worker, jobs) in held {
                group.addTask {
                    for job in jobs { _ = try await f.store.complete([CompletionReport(job: job, result: "1")], worker: worker) }
                }
            }
            try await group.waitForAll()
        }
        let callbacks = try await f.store.claim(queues: ["flow"], worker: "d", max: 100, start: true)
        #expect(Set(callbacks.map(\.id)) == [batch.jobs["onComplete"]!, batch.jobs["onSuccess"]!])
        #expect(callbacks.allSatisfy { $0.parentResults.count == 30 })
        for id in [batch.jobs["onComplete"]!, batch.jobs["onSuccess"]!] {
            #expect(try await f.store.job(id, queue: nil)?.history.filter { $0.state == .queued }.count == 1)
        }
    }
}
