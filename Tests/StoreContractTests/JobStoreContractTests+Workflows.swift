import DroverCore
import DroverTestSupport
import Foundation
import Testing

/// The contract of workflows: the graph written at once, children queued by their last
/// parent's end, the failure policies, cancelling, and the effect ledger.
extension JobStoreContractTests {
    func node(_ name: String, _ parents: [WorkflowEdge] = [], attempts: Int = 3) -> WorkflowJob {
        WorkflowJob(
            name: name,
            job: JobRequest(queue: "flow", type: "step", payload: #"{"step":"\#(name)"}"#, maxAttempts: attempts, backoff: noDelay),
            dependsOn: parents)
    }

    /// Claims what is queued in `flow` and completes each job with its name as the result;
    /// returns the names completed.
    func completeQueued(_ f: ContractFixture, _ names: [JobID: String], worker: String = "w") async throws -> [String] {
        let claimed = try await f.store.claim(queues: ["flow"], worker: worker, max: 1000, start: true)
        let reports = claimed.map { CompletionReport(job: $0, result: JSONScanner.quote(names[$0.id] ?? "?")) }
        if !reports.isEmpty {
            #expect(try await f.store.complete(reports, worker: worker).allSatisfy { $0 == .applied(.completed) })
        }
        return claimed.compactMap { names[$0.id] }.sorted()
    }

    func names(_ submitted: SubmittedWorkflow) -> [JobID: String] {
        Dictionary(uniqueKeysWithValues: submitted.jobs.map { ($1, $0) })
    }

    @Test(arguments: ContractKind.allCases)
    func aDiamondRunsParentsFirstAndChildrenReadTheirResults(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let submitted = try await f.store.submitWorkflow(
            WorkflowRequest(
                queue: "flow", name: "diamond",
                jobs: [node("join", ["left", "right"]), node("left", ["root"]), node("right", ["root"]), node("root")]))
        let names = names(submitted)
        #expect(submitted.jobs.count == 4)
        let join = try #require(try await f.store.job(submitted.jobs["join"]!, queue: nil))
        #expect(join.state == .waiting && join.history.map(\.state) == [.submitted, .waiting])
        #expect(join.workflow == WorkflowMembership(workflow: submitted.id, name: "join", waitingFor: 2))
        #expect(try await f.store.queueCounts() == [QueueCounts(queue: "flow", queued: 1, waiting: 3)])
        #expect(try await f.store.jobs(queue: "flow", state: .waiting, limit: 10).count == 3)

        var status = try #require(try await f.store.workflow(submitted.id, queue: nil))
        #expect(status.state == .running && status.name == "diamond" && status.queue == "flow")
        #expect(status.jobs.map(\.name) == ["root", "left", "right", "join"])
        #expect(status.jobs.map(\.dependsOn) == [[], ["root"], ["root"], ["left", "right"]])

        #expect(try await completeQueued(f, names) == ["root"])
        #expect(try await completeQueued(f, names, worker: "a") == ["left", "right"])
        let claimed = try await f.store.claim(queues: ["flow"], worker: "w", max: 10, start: true)
        #expect(claimed.map(\.id) == [submitted.jobs["join"]!])
        #expect(claimed[0].parentResults == ["left": #""left""#, "right": #""right""#])
        #expect(
            try await f.store.job(submitted.jobs["join"]!, queue: nil)?.history.map(\.state) == [
                .submitted, .waiting, .queued, .assigned, .running,
            ])
        _ = try await f.store.complete([CompletionReport(job: claimed[0], result: "1")], worker: "w")
        status = try #require(try await f.store.workflow(submitted.id, queue: "flow"))
        #expect(status.state == .completed && status.finishedAt != nil)
        #expect(status.jobs.allSatisfy { $0.state == .completed })
    }

    @Test(arguments: ContractKind.allCases)
    func aBadGraphIsRefusedWithNothingWritten(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let bad: [(WorkflowRequest, String)] = [
            (WorkflowRequest(queue: "flow", jobs: [node("a", ["c"]), node("b", ["a"]), node("c", ["b"])]), "cycle"),
            (WorkflowRequest(queue: "flow", jobs: [node("a"), node("b", ["nowhere"])]), "'nowhere'"),
            (WorkflowRequest(queue: "flow", jobs: [node("a", ["a"])]), "itself"),
            (WorkflowRequest(queue: "flow", jobs: [node("a"), node("a")]), "two jobs"),
            (WorkflowRequest(queue: "flow", jobs: []), "at least one"),
            (WorkflowRequest(queue: "flow", jobs: [node("a"), node("b", ["a", "a"])]), "twice"),
            (
                WorkflowRequest(queue: "flow", jobs: [WorkflowJob(name: "a", job: JobRequest(queue: "other", type: "t"))]),
                "every job of a workflow"
            ),
            (
                WorkflowRequest(
                    queue: "flow", jobs: [WorkflowJob(name: "a", job: JobRequest(queue: "flow", type: "t", unique: UniqueLock()))]),
                "unique"
            ),
        ]
        for (request, reason) in bad {
            await #expect {
                _ = try await f.store.submitWorkflow(request)
            } throws: { error in
                guard case .invalidWorkflow(let message) = error as? JobError else { return false }
                return message.contains(reason)
            }
        }
        let tooBig = WorkflowRequest(queue: "flow", jobs: (0...WorkflowRequest.maxJobs).map { node("n\($0)") })
        // Remote stores refuse it at the door, before the store sees it.
        await #expect(throws: (any Error).self) { _ = try await f.store.submitWorkflow(tooBig) }
        #expect(try await f.store.queueCounts().allSatisfy { $0.queued == 0 && $0.waiting == 0 })
    }

    @Test(arguments: ContractKind.allCases)
    func aDeadParentCancelsRunsOrHoldsItsChildrenByPolicy(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let submitted = try await f.store.submitWorkflow(
            WorkflowRequest(
                queue: "flow",
                jobs: [
                    node("flaky", attempts: 1), node("cancelled", [WorkflowEdge("flaky", onParentFailure: .cancel)]),
                    node("after-cancelled", ["cancelled"]), node("anyway", [WorkflowEdge("flaky", onParentFailure: .continue)]),
                    node("held", ["flaky"]),
                ], onParentFailure: .wait))
        let ids = submitted.jobs
        let claimed = try await f.store.claim(queues: ["flow"], worker: "w", max: 10, start: true)
        #expect(claimed.map(\.id) == [ids["flaky"]!])
        #expect(try await f.store.fail([FailureReport(job: claimed[0], error: "boom")], worker: "w") == [.applied(.deadLetter)])

        let cancelled = try #require(try await f.store.job(ids["cancelled"]!, queue: nil))
        #expect(cancelled.state == .cancelled && cancelled.error == "parent flaky ended DEAD_LETTER")
        #expect(try await f.store.job(ids["after-cancelled"]!, queue: nil)?.state == .cancelled)
        #expect(try await f.store.job(ids["held"]!, queue: nil)?.state == .waiting)
        let anyway = try await f.store.claim(queues: ["flow"], worker: "w", max: 10, start: true)
        #expect(anyway.map(\.id) == [ids["anyway"]!] && anyway[0].parentResults.isEmpty)
        #expect(anyway[0].failedParents == ["flaky": ParentFailure(state: .deadLetter, error: "boom")])
        _ = try await f.store.complete([CompletionReport(job: anyway[0], result: "1")], worker: "w")
        #expect(try await f.store.workflow(submitted.id, queue: nil)?.state == .blocked)

        // An operator's retry of the dead parent resumes what waited for it.
        try await f.store.retryDeadLetter(ids["flaky"]!, queue: nil)
        #expect(try await f.store.workflow(submitted.id, queue: nil)?.state == .running)
        let retried = try await f.store.claim(queues: ["flow"], worker: "w", max: 10, start: true)
        #expect(retried.map(\.id) == [ids["flaky"]!])
        _ = try await f.store.complete([CompletionReport(job: retried[0], result: #""fixed""#)], worker: "w")
        let held = try await f.store.claim(queues: ["flow"], worker: "w", max: 10, start: true)
        #expect(held.map(\.id) == [ids["held"]!] && held[0].parentResults == ["flaky": #""fixed""#])
        _ = try await f.store.complete([CompletionReport(job: held[0], result: "1")], worker: "w")
        let status = try #require(try await f.store.workflow(submitted.id, queue: nil))
        #expect(status.state == .failed && status.finishedAt != nil)
        #expect(try await f.store.claim(queues: ["flow"], worker: "w", max: 10, start: true).isEmpty)
    }

    @Test(arguments: ContractKind.allCases)
    func cancellingAWorkflowEndsEveryUnfinishedJob(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let submitted = try await f.store.submitWorkflow(
            WorkflowRequest(
                queue: "flow",
                jobs: [
                    node("done"), node("running"), node("next", [WorkflowEdge("running", onParentFailure: .continue)]),
                    node("last", ["next", "done"]),
                ]))
        let ids = submitted.jobs
        let first = try await f.store.claim(queues: ["flow"], worker: "w", max: 2, start: true)
        let byID = Dictionary(uniqueKeysWithValues: first.map { ($0.id, $0) })
        _ = try await f.store.complete([CompletionReport(job: byID[ids["done"]!]!, result: "1")], worker: "w")

        let outcome = try await f.store.cancelWorkflow(submitted.id, queue: nil)
        #expect(outcome == WorkflowCancelOutcome(cancelled: 2, stopping: 1))
        // The running job ends CANCELLED when its worker reports, and queues nothing.
        _ = try await f.store.fail([FailureReport(job: byID[ids["running"]!]!, error: "stopped", kind: .interrupted)], worker: "w")
        let status = try #require(try await f.store.workflow(submitted.id, queue: nil))
        #expect(status.jobs.map(\.state) == [.completed, .cancelled, .cancelled, .cancelled])
        #expect(status.state == .cancelled && status.cancelledAt != nil)
        #expect(try await f.store.claim(queues: ["flow"], worker: "w", max: 10, start: true).isEmpty)
        await #expect(throws: JobError.unknownWorkflow(ids["done"]!)) { _ = try await f.store.cancelWorkflow(ids["done"]!, queue: nil) }
        #expect(try await f.store.workflow(ids["done"]!, queue: nil) == nil)
    }

    @Test(arguments: [ContractKind.redis, .memory])
    func aFanOutOfAThousandJoinsOnce(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let middle = (0..<1000).map { node("m\($0)", ["split"]) }
        let submitted = try await f.store.submitWorkflow(
            WorkflowRequest(queue: "flow", jobs: [node("split")] + middle + [node("join", middle.map { WorkflowEdge($0.name) })]))
        let names = names(submitted)
        #expect(try await completeQueued(f, names) == ["split"])
        #expect(try await completeQueued(f, names).count == 1000)
        let join = try await f.store.claim(queues: ["flow"], worker: "w", max: 10, start: true)
        #expect(join.map(\.id) == [submitted.jobs["join"]!] && join[0].parentResults.count == 1000)
        #expect(join[0].parentResults["m999"] == #""m999""#)
    }

    @Test(arguments: [ContractKind.redis, .memory])
    func aChainOfAHundredRunsInOrderAndACancelCascadesThroughIt(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let chain = (0..<100).map { node("c\($0)", $0 == 0 ? [] : [WorkflowEdge("c\($0 - 1)")]) }
        let submitted = try await f.store.submitWorkflow(WorkflowRequest(queue: "flow", jobs: chain.reversed()))
        let names = names(submitted)
        for i in 0..<50 { #expect(try await completeQueued(f, names) == ["c\(i)"]) }
        // Cancelling the next job ends the 49 after it in the same call.
        _ = try await f.store.cancel(submitted.jobs["c50"]!, queue: nil)
        let status = try #require(try await f.store.workflow(submitted.id, queue: nil))
        #expect(status.jobs.map(\.state) == Array(repeating: .completed, count: 50) + Array(repeating: .cancelled, count: 50))
        #expect(status.state == .failed)
    }

    @Test(arguments: ContractKind.allCases)
    func theEffectLedgerKeepsAStepsFirstResultAndFencesItsWrites(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let id = try await f.store.submit([JobRequest(type: "pay", maxAttempts: 3, backoff: noDelay)])[0].id
        try await f.store.heartbeat(worker("first"))
        let first = try await f.store.claim(queues: ["default"], worker: "first", max: 1, start: true)[0]
        #expect(
            try await f.store.recordEffect(first.lease, step: "charge", value: #"{"receipt":1}"#, worker: "first")
                == .recorded(#"{"receipt":1}"#))
        #expect(
            try await f.store.recordEffect(first.lease, step: "charge", value: #"{"receipt":2}"#, worker: "first")
                == .recorded(#"{"receipt":1}"#))
        await #expect(throws: JobError.self) {
            _ = try await f.store.recordEffect(first.lease, step: "bad step", value: "1", worker: "first")
        }
        await #expect(throws: JobError.self) { _ = try await f.store.recordEffect(first.lease, step: "s", value: "{", worker: "first") }

        // The worker is lost; the next attempt is handed the recorded step, and the old
        // worker's late record changes nothing.
        _ = try await f.maintenance.reapLostWorkers(heartbeatTimeout: everyoneIsLost)
        _ = try await f.maintenance.promoteDueJobs()
        let second = try await f.store.claim(queues: ["default"], worker: "second", max: 1, start: true)[0]
        #expect(second.attempt == 2 && second.effects == ["charge": #"{"receipt":1}"#])
        #expect(try await f.store.recordEffect(first.lease, step: "email", value: "1", worker: "first") == .stale(current: .running))
        #expect(try await f.store.job(id, queue: nil)?.effects == ["charge": #"{"receipt":1}"#])

        // Completing is idempotent: the same report again answers as the first did.
        let report = CompletionReport(job: second, result: "1")
        #expect(try await f.store.complete([report], worker: "second") == [.applied(.completed)])
        #expect(try await f.store.complete([report], worker: "second") == [.applied(.completed)])
        #expect(try await f.maintenance.statistics()["default"]?["completed"] == 1)
        #expect(try await f.store.recordEffect(second.lease, step: "late", value: "1", worker: "second") == .stale(current: .completed))
    }
}
