import DroverCore
import DroverTestSupport
import Foundation
import Testing

/// The contract of recovery: the reaper, interrupted jobs and reconciles.
extension JobStoreContractTests {
    @Test(arguments: ContractKind.allCases)
    func reaperFailsTheJobsOfLostWorkersAndFencesTheirReports(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let ids = try await f.store.submit([JobRequest(type: "t", maxAttempts: 2, backoff: noDelay), JobRequest(type: "t", maxAttempts: 2)])
            .map(\.id)
        try await f.store.heartbeat(worker("lost"))
        let held =
            try await f.store.claim(queues: ["default"], worker: "lost", max: 1, start: true)
            + f.store.claim(queues: ["default"], worker: "lost", max: 1, start: false)
        #expect(try await f.store.workers().map(\.id) == ["lost"])

        let report = try await f.maintenance.reapLostWorkers(heartbeatTimeout: everyoneIsLost)
        #expect(report.lostWorkers == ["lost"])
        #expect(Set(report.failedJobs) == Set(ids))
        #expect(try await f.store.workers().isEmpty)
        for id in ids {
            let job = try #require(try await f.store.job(id, queue: nil))
            #expect(job.state == .retryQueued)
            #expect(job.error?.hasPrefix("worker lost") == true)
            #expect(job.history.suffix(2).map(\.state) == [.failed, .retryQueued])
        }
        #expect(try await f.maintenance.statistics()["default"]?["reassigned:t"] == 2)
        // The lost worker's late reports change nothing.
        #expect(
            try await f.store.complete([CompletionReport(job: held[0], result: "1")], worker: "lost") == [.stale(current: .retryQueued)])
        #expect(try await f.store.queueCounts()[0].running == 0)

        // A job that kills every worker that takes it ends in DEAD_LETTER.
        _ = try await f.maintenance.promoteDueJobs()
        try await f.store.heartbeat(worker("second"))
        let retaken = try await f.store.claim(queues: ["default"], worker: "second", max: 1, start: true)
        #expect(retaken.map(\.id) == [ids[0]] && retaken[0].attempt == 2)
        _ = try await f.maintenance.reapLostWorkers(heartbeatTimeout: everyoneIsLost)
        #expect(try await f.store.job(ids[0], queue: nil)?.state == .deadLetter)
    }

    @Test(arguments: ContractKind.allCases)
    func reaperRecoversJobsLeftByAWorkerThatDeregistered(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let id = try await f.store.submit([JobRequest(type: "t")])[0].id
        try await f.store.heartbeat(worker("gone"))
        _ = try await f.store.claim(queues: ["default"], worker: "gone", max: 1, start: true)
        try await f.store.deregister(worker: "gone")
        // However long the timeout, an unregistered worker's processing list is an orphan.
        let report = try await f.maintenance.reapLostWorkers(heartbeatTimeout: .seconds(3600))
        #expect(report.failedJobs == [id])
        #expect(try await f.store.job(id, queue: nil)?.state == .retryQueued)
        #expect(try await f.maintenance.reapLostWorkers(heartbeatTimeout: .seconds(3600)).failedJobs.isEmpty)
    }

    @Test(arguments: ContractKind.allCases)
    func reaperLeavesLiveWorkersAlone(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        _ = try await f.store.submit([JobRequest(type: "t")])
        try await f.store.heartbeat(worker("alive"))
        let job = try await f.store.claim(queues: ["default"], worker: "alive", max: 1, start: true)[0]
        let report = try await f.maintenance.reapLostWorkers(heartbeatTimeout: .seconds(60))
        #expect(report.lostWorkers.isEmpty && report.failedJobs.isEmpty)
        #expect(try await f.store.complete([CompletionReport(job: job, result: "null")], worker: "alive") == [.applied(.completed)])
    }

    @Test(arguments: ContractKind.allCases)
    func interruptedJobsGoBackEvenOnTheirLastAttempt(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let id = try await f.store.submit([JobRequest(type: "t", maxAttempts: 1)])[0].id
        let job = try await f.store.claim(queues: ["default"], worker: "w", max: 1, start: true)[0]
        #expect(job.isLastAttempt)
        let outcome = try await f.store.fail([FailureReport(job: job, error: "worker stopping", kind: .interrupted)], worker: "w")
        #expect(outcome == [.applied(.retryQueued)])
        #expect(try await f.maintenance.promoteDueJobs().promoted == 1)
        #expect(try await f.store.job(id, queue: nil)?.state == .queued)
    }

    @Test(arguments: ContractKind.allCases)
    func reconcileHandsBackJobsTheWorkerLostTrackOf(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let ids = try await f.store.submit([JobRequest(type: "t", maxAttempts: 1), JobRequest(type: "t", maxAttempts: 1)]).map(\.id)
        let claimed = try await f.store.claim(queues: ["default"], worker: "w", max: 2, start: true)
        #expect(claimed.count == 2)
        // The worker only knows of the first (the reply of a second claim was lost, say).
        let report = try await f.store.reconcile(worker: "w", queues: ["default"], holding: [ids[0]])
        #expect(report.handedBack == [ids[1]])
        #expect(try await f.store.job(ids[0], queue: nil)?.state == .running)
        let lost = try #require(try await f.store.job(ids[1], queue: nil))
        // Handed back even on its last attempt: it never ran.
        #expect(lost.state == .retryQueued)
        #expect(lost.error?.hasPrefix("interrupted") == true)
        #expect(try await f.store.complete([CompletionReport(job: claimed[0], result: "1")], worker: "w") == [.applied(.completed)])
        #expect(try await f.store.reconcile(worker: "w", queues: ["default"], holding: []).handedBack.isEmpty)
    }
}
