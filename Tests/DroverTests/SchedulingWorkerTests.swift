import Drover
import DroverCore
import DroverMaintenance
import DroverTestSupport
import Foundation
import Synchronization
import Testing

/// Delayed jobs, cancellation and paused queues with a running worker (whose promoter moves
/// due jobs), on both stores.
@Suite struct SchedulingWorkerTests {
    let workers = WorkerTests()

    @Test(arguments: StoreKind.allCases)
    func delayedJobsRunInDueOrderOnTimeAndNeverEarly(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        var handlers = JobHandlers()
        handlers.registerRaw("noop") { _, _ in "null" }
        let client = DroverClient(store: f.store)
        // Submitted in shuffled order; due 300 ms to 1.7 s from now.
        let delays = (0..<200).map { 300 + $0 * 7 }.shuffled()
        let ids = try await client.submit(batch: delays.map { JobRequest(type: "noop", start: .after(.milliseconds($0))) }).map(\.id)
        try await workers.running(workers.worker(f.store, handlers)) { () async throws in
            var queued: [(due: Int64, at: Int64)] = []
            for (id, delay) in zip(ids, delays) {
                let job = try await client.wait(for: id, timeout: .seconds(60))
                #expect(job.state == .completed)
                let due = try #require(job.history.first { $0.state == .scheduled }).at + Int64(delay)
                let queuedAt = try #require(job.history.first { $0.state == .queued }).at
                #expect(queuedAt >= due, "queued \(due - queuedAt) ms early")
                queued.append((due, queuedAt))
            }
            // Due order: a job due later is never queued before one due earlier. (How soon after
            // its time a job is queued is a benchmark's business: a loaded test run delays it.)
            let byDue = queued.sorted { $0.due < $1.due }.map(\.at)
            #expect(byDue == byDue.sorted(), "queued out of due order")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aRunningHandlerIsCancelledAndTheJobEndsCancelled(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let started = Gate()
        let sawCancellation = Mutex(false)
        var handlers = JobHandlers()
        handlers.registerRaw("long") { _, _ in
            started.open()
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                sawCancellation.withLock { $0 = true }
                throw error
            }
            return "null"
        }
        let client = DroverClient(store: f.store)
        let id = try await client.submit(JobRequest(type: "long")).id
        try await workers.running(workers.worker(f.store, handlers)) { () async throws in
            await started.wait()
            guard case .stopping = try await client.cancel(id) else {
                Issue.record("a running job must be stopped by its worker")
                return
            }
            let job = try await client.wait(for: id, timeout: .seconds(20))
            #expect(job.state == .cancelled)
            #expect(job.history.suffix(2).map(\.state) == [.running, .cancelled])
            #expect(job.error?.contains("cancel") == true, "\(job.error ?? "")")
        }
        #expect(sawCancellation.withLock { $0 }, "the handler's task was not cancelled")
    }

    @Test(arguments: StoreKind.allCases)
    func aPausedQueueStartsNothingWhileItsRunningJobFinishesAndResumingRestartsIt(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let gauge = Gauge()
        let release = Gate()
        var handlers = Gate.slowHandlers(gauge: gauge, release: release)
        let started = Mutex(0)
        handlers.registerRaw("count") { _, _ in
            started.withLock { $0 += 1 }
            return "null"
        }
        let client = DroverClient(store: f.store)
        let slow = try await client.submit(JobRequest(type: "slow", payload: "1")).id
        try await workers.running(workers.worker(f.store, handlers)) { () async throws in
            await gauge.waitUntilRunning(1, or: .seconds(20))
            try await client.pause(queue: "default")
            let ids = try await client.submit(batch: (0..<5).map { _ in JobRequest(type: "count") }).map(\.id)
            release.open()
            #expect(try await client.wait(for: slow, timeout: .seconds(20)).state == .completed)
            // The worker has free slots and keeps fetching (its fetch timeout is 1 s); that
            // nothing starts only time can show.
            try await Task.sleep(for: .milliseconds(1500))
            #expect(started.withLock { $0 } == 0)
            #expect(try await client.queueCounts().first?.queued == 5)
            try await client.resume(queue: "default")
            for id in ids { #expect(try await client.wait(for: id, timeout: .seconds(20)).state == .completed) }
        }
        #expect(started.withLock { $0 } == 5)
    }
}
