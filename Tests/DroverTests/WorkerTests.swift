import Drover
import DroverCore
import DroverMaintenance
import DroverTestSupport
import Foundation
import Synchronization
import Testing

/// A worker on each store, the in-memory one and a real Redis: concurrency, failures,
/// timeouts, shutdown. Handlers' own unit tests can run on the in-memory store the same way.
@Suite struct WorkerTests {
    func worker(
        _ store: any JobStore, _ handlers: JobHandlers, concurrency: Int = 4, grace: Duration = .seconds(10),
        id: String = "w-\(UInt16.random(in: 0...9999))"
    ) -> Worker {
        Worker(
            store: store, handlers: handlers,
            configuration: .init(
                id: id, concurrency: concurrency, heartbeatInterval: .milliseconds(200), shutdownGracePeriod: grace,
                fetchTimeout: .seconds(1),
                maintenance: Maintenance.Configuration(heartbeatTimeout: .seconds(2), promoterInterval: .milliseconds(50))),
            logger: quietLogger)
    }

    /// Runs `worker` while `body` runs, then shuts it down and waits for it to stop.
    func running<T>(_ worker: Worker, _ body: () async throws -> T) async throws -> T {
        let task = Task { try await worker.run() }
        do {
            let value = try await body()
            worker.shutdown()
            try await task.value
            return value
        } catch {
            worker.shutdown()
            _ = try? await task.value
            throw error
        }
    }

    @Test(arguments: StoreKind.allCases)
    func jobsOverlapUpToTheConcurrencyAndNeverBeyond(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let gauge = Gauge()
        var handlers = JobHandlers()
        handlers.registerRaw("overlap") { _, _ in
            let now = gauge.enter()
            defer { gauge.leave() }
            // The first jobs wait until four run at once: this proves they overlap.
            await gauge.waitUntilPeak(4, or: .seconds(20))
            return "\(now)"
        }
        let client = DroverClient(store: f.store)
        let ids = try await client.submit(batch: (0..<12).map { _ in JobRequest(type: "overlap") }).map(\.id)
        try await running(worker(f.store, handlers, concurrency: 4)) { () async throws in
            for id in ids {
                #expect(try await client.wait(for: id, timeout: .seconds(30)).state == .completed)
            }
        }
        #expect(gauge.peak == 4)
    }

    @Test(arguments: StoreKind.allCases)
    func aThrowingHandlerFailsOnlyItsJobAndRetriesIntoTheDeadLetterQueue(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        var handlers = JobHandlers()
        handlers.registerRaw("ok") { payload, _ in payload }
        handlers.registerRaw("bad") { _, _ in throw Boom() }
        let client = DroverClient(store: f.store)
        let good = try await client.submit(batch: (0..<5).map { JobRequest(type: "ok", payload: "\($0)") }).map(\.id)
        let bad = try await client.submit(JobRequest(type: "bad", maxAttempts: 3, backoff: .fixed(ms: 10))).id
        try await running(worker(f.store, handlers)) { () async throws in
            for (i, id) in good.enumerated() {
                let job = try await client.wait(for: id, timeout: .seconds(30))
                #expect(job.state == .completed && job.result == "\(i)")
            }
            let dead = try await client.wait(for: bad, timeout: .seconds(30))
            #expect(dead.state == .deadLetter)
            #expect(dead.attempt == 3 && dead.error == "boom")
            #expect(dead.history.filter { $0.state == .failed }.count == 3)
            #expect(try await client.deadLetters(queue: "default").jobs.map(\.id) == [bad])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aHandlerPastItsTimeoutIsCancelledAndFailed(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let cancelled = Mutex(false)
        var handlers = JobHandlers()
        handlers.registerRaw("hang") { _, _ in
            do {
                try await Task.sleep(for: .seconds(3600))
            } catch {
                cancelled.withLock { $0 = true }
                throw error
            }
            return "null"
        }
        let client = DroverClient(store: f.store)
        let id = try await client.submit(JobRequest(type: "hang", maxAttempts: 1, timeoutMs: 200)).id
        try await running(worker(f.store, handlers)) { () async throws in
            let job = try await client.wait(for: id, timeout: .seconds(30))
            #expect(job.state == .deadLetter)
            #expect(job.error?.contains("timed out after") == true)
        }
        #expect(cancelled.withLock { $0 })
    }

    @Test(arguments: StoreKind.allCases)
    func unknownTypesAndUndecodablePayloadsFailWithAClearReason(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        struct Order: Codable, Sendable { var id: Int }
        var handlers = JobHandlers()
        handlers.register("order") { (order: Order, _) in order.id * 2 }
        let client = DroverClient(store: f.store)
        let unknown = try await client.submit(JobRequest(type: "invoice", maxAttempts: 1)).id
        let undecodable = try await client.submit(JobRequest(type: "order", payload: #"{"id":"seven"}"#, maxAttempts: 1)).id
        let fine = try await client.submit(type: "order", payload: Order(id: 21)).id
        try await running(worker(f.store, handlers, id: "first")) { () async throws in
            let a = try await client.wait(for: unknown, timeout: .seconds(30))
            #expect(a.state == .deadLetter)
            #expect(a.error == "no handler for job type 'invoice' on worker first")
            let b = try await client.wait(for: undecodable, timeout: .seconds(30))
            #expect(b.state == .deadLetter)
            #expect(b.error?.contains("does not decode as Order") == true)
            #expect(try await client.result(of: fine, as: Int.self, timeout: .seconds(30)) == 42)
        }
        // Once a worker has the handler, an operator retries the dead letter and it runs.
        handlers.registerRaw("invoice") { _, _ in #""sent""# }
        try await running(worker(f.store, handlers, id: "second")) { () async throws in
            try await client.retryDeadLetter(unknown)
            #expect(try await client.result(of: unknown, as: String.self, timeout: .seconds(30)) == "sent")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func gracefulShutdownFinishesRunningJobsAndLeavesTheRestQueued(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let gauge = Gauge()
        let release = Gate()
        let handlers = Gate.slowHandlers(gauge: gauge, release: release)
        let client = DroverClient(store: f.store)
        let ids = try await client.submit(batch: (0..<6).map { JobRequest(type: "slow", payload: "\($0)") }).map(\.id)
        let w = worker(f.store, handlers, concurrency: 2)
        let task = Task { try await w.run() }
        await gauge.waitUntilRunning(2, or: .seconds(20))
        w.shutdown()
        release.open()
        try await task.value
        let jobs = try await ids.asyncMap { try await client.job($0)! }
        #expect(jobs.filter { $0.state == .completed }.count == 2)
        #expect(jobs.filter { $0.state == .queued }.count == 4)
        let counts = try await client.queueCounts()[0]
        #expect(counts.running == 0 && counts.assigned == 0 && counts.queued == 4)
        #expect(try await client.workers().isEmpty)
        if let server = f.server {
            let redis = try server.client()
            defer { Task { await redis.close() } }
            #expect(try await redis.send("KEYS", "drover:{default}:active:*").array?.isEmpty == true)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func jobsStillRunningAfterTheGracePeriodAreHandedBack(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let gauge = Gauge()
        var handlers = JobHandlers()
        handlers.registerRaw("forever") { _, _ in
            gauge.enter()
            defer { gauge.leave() }
            try await Task.sleep(for: .seconds(3600))
            return "null"
        }
        let client = DroverClient(store: f.store)
        let id = try await client.submit(JobRequest(type: "forever", maxAttempts: 1)).id
        let w = worker(f.store, handlers, concurrency: 1, grace: .milliseconds(100))
        let task = Task { try await w.run() }
        await gauge.waitUntilRunning(1, or: .seconds(20))
        w.shutdown()
        try await task.value
        let job = try #require(try await client.job(id))
        // Not dead-lettered although it was the last attempt: the shutdown was not its fault.
        // (The worker's promoter may already have queued it again.)
        #expect(job.state == .retryQueued || job.state == .queued)
        #expect(job.error?.hasPrefix("interrupted") == true)
        #expect(job.history.map(\.state).contains(.retryQueued))
        #expect(!job.history.map(\.state).contains(.deadLetter))
        #expect(w.staleReports == 0)
    }
}
