import Drover
import DroverCore
import DroverMaintenance
import DroverTestSupport
import Foundation
import Synchronization
import Testing

/// Workflows and the effect ledger as handlers use them, on a running worker.
@Suite struct WorkflowWorkerTests {
    let noDelay = BackoffPolicy.fixed(ms: 0)

    func worker(
        _ store: any JobStore, _ handlers: JobHandlers, id: String = "w-\(UInt16.random(in: 0...9999))", concurrency: Int = 4
    ) -> Worker {
        Worker(
            store: store, handlers: handlers,
            configuration: .init(
                id: id, queues: ["default", "flow"], concurrency: concurrency, heartbeatInterval: .milliseconds(200),
                fetchTimeout: .seconds(1),
                maintenance: Maintenance.Configuration(heartbeatTimeout: .seconds(2), promoterInterval: .milliseconds(50))),
            logger: quietLogger)
    }

    func running<T>(_ worker: Worker, _ body: () async throws -> T) async throws -> T {
        let task = Task { try await worker.run() }
        defer { worker.shutdown() }
        let value = try await body()
        worker.shutdown()
        try await task.value
        return value
    }

    @Test(arguments: StoreKind.allCases)
    func aDiamondRunsOnAWorkerAndTheJoinReadsItsParentsResults(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        var handlers = JobHandlers()
        handlers.register("number") { (n: Int, _) in n }
        handlers.register("add") { (_: [String], context) -> Int in
            var sum = 0
            for name in context.parentResults.keys.sorted() { sum += try context.parentResult(name, as: Int.self) ?? 0 }
            return sum
        }
        let client = DroverClient(store: f.store)
        func job(_ type: String, _ payload: String) -> JobRequest { JobRequest(queue: "flow", type: type, payload: payload) }
        let submitted = try await client.submit(
            workflow: WorkflowRequest(
                queue: "flow",
                jobs: [
                    WorkflowJob(name: "one", job: job("number", "1")),
                    WorkflowJob(name: "two", job: job("add", "[]"), dependsOn: ["one"]),
                    WorkflowJob(name: "three", job: job("add", "[]"), dependsOn: ["one"]),
                    WorkflowJob(name: "sum", job: job("add", "[]"), dependsOn: ["two", "three"]),
                ]))
        let status = try await running(worker(f.store, handlers)) {
            try await client.wait(forWorkflow: submitted.id, timeout: .seconds(30))
        }
        #expect(status.state == .completed)
        #expect(try await f.store.job(submitted.jobs["sum"]!, queue: "flow")?.result == "2")
    }

    @Test(arguments: StoreKind.allCases)
    func aStepRunsOnceAcrossAttemptsAndALaterAttemptGetsItsResult(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let bodyRuns = Atomic<Int>(0)
        var handlers = JobHandlers()
        handlers.register("pay") { (_: [String], context) -> Int in
            let receipt = try await context.once("charge") { () async throws -> Int in
                bodyRuns.add(1, ordering: .relaxed)
                return 41 + context.attempt
            }
            // Fails after its effect on the first attempts, as a crash or a later step would.
            guard context.attempt >= 3 else { throw FailOnPurpose() }
            return receipt
        }
        let client = DroverClient(store: f.store)
        let id = try await client.submit(JobRequest(type: "pay", payload: "[]", maxAttempts: 3, backoff: noDelay)).id
        let job = try await running(worker(f.store, handlers)) { try await client.wait(for: id, timeout: .seconds(30)) }
        #expect(job.state == .completed && job.attempt == 3)
        #expect(job.result == "42" && job.effects == ["charge": "42"])
        #expect(bodyRuns.load(ordering: .relaxed) == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func aZombiesLateStepChangesNothing(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let reassigned = Gate()
        let lateStep = Mutex<(any Error)?>(nil)
        let handlerEnded = Gate()
        var handlers = JobHandlers()
        handlers.register("pay") { (_: [String], context) -> Int in
            defer { handlerEnded.open() }
            // Stalls until the job has been given to another worker and completed there.
            await reassigned.wait()
            do {
                return try await context.once("charge") { 1 }
            } catch {
                lateStep.withLock { $0 = error }
                throw error
            }
        }
        let client = DroverClient(store: f.store)
        let id = try await client.submit(JobRequest(type: "pay", payload: "[]", maxAttempts: 3, backoff: noDelay)).id
        // One slot, which the stalled handler fills: the zombie cannot take the job back.
        let zombie = worker(f.store, handlers, id: "zombie", concurrency: 1)
        try await running(zombie) {
            #expect(try await eventually { try await f.store.job(id, queue: nil)?.state == .running })
            // The zombie's heartbeat is taken as lost: the job goes to another worker, which
            // completes it without the step.
            _ = try await f.store.reapLostWorkers(heartbeatTimeout: .seconds(-60))
            _ = try await f.store.promoteDueJobs()
            let other = try await f.store.claim(queues: ["default"], worker: "other", max: 1, start: true)
            #expect(other.map(\.id) == [id] && other[0].attempt == 2)
            #expect(try await f.store.complete([CompletionReport(job: other[0], result: "2")], worker: "other") == [.applied(.completed)])
            reassigned.open()
            await handlerEnded.wait()
        }
        let failure = lateStep.withLock { $0 }
        guard case .notHeld(let step, let current)? = failure as? JobFailure else {
            Issue.record("the late step threw \(String(describing: failure))")
            return
        }
        #expect(step == "charge" && current == .completed)
        let job = try #require(try await f.store.job(id, queue: nil))
        #expect(job.state == .completed && job.result == "2" && job.effects.isEmpty)
        #expect(job.history.last?.state == .completed && job.history.last?.worker == "other")
    }
}

private struct FailOnPurpose: Error {}
