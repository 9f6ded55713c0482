import Drover
import DroverCore
import DroverTestSupport
import Foundation
import Synchronization
import Testing

/// Which job a worker starts next: priorities within a queue, strict and weighted order across
/// queues, with running workers on both stores.
@Suite struct QueueOrderWorkerTests {
    let workers = WorkerTests()

    /// The payloads of the `note` jobs a worker started, in order.
    final class Starts: Sendable {
        let payloads = Mutex<[String]>([])
        let enough = Gate()
        let count: Int

        init(count: Int) { self.count = count }

        /// A `note` handler that notes its payload and opens `enough` at the `count`th start.
        var handlers: JobHandlers {
            var handlers = JobHandlers()
            handlers.registerRaw("note") { payload, _ in
                let n = self.payloads.withLock {
                    $0.append(payload)
                    return $0.count
                }
                if n == self.count { self.enough.open() }
                return "null"
            }
            return handlers
        }

        var all: [String] { payloads.withLock { $0 } }
    }

    @Test(arguments: StoreKind.allCases)
    func weightedQueuesShareStartsInProportionToTheirWeights(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let client = DroverClient(store: f.store)
        for queue in ["a", "b"] {
            _ = try await client.submit(batch: (0..<600).map { _ in JobRequest(queue: queue, type: "note", payload: "\"\(queue)\"") })
        }
        let starts = Starts(count: 400)
        let worker = Worker(
            store: f.store, handlers: starts.handlers,
            configuration: .init(id: "weighted", queues: ["a", "b"], concurrency: 1, maintenance: nil, weights: ["a": 3, "b": 1]),
            logger: quietLogger)
        try await workers.running(worker) { await starts.enough.wait() }
        let first = Array(starts.all.prefix(400))
        let share = Double(first.filter { $0 == "\"a\"" }.count) / Double(first.count)
        // Weights 3:1 give queue a three starts in four; within 10 % of that.
        #expect(abs(share - 0.75) <= 0.075, "queue a had \(share) of the starts")
    }

    @Test(arguments: StoreKind.allCases)
    func strictQueuesRunAnEarlierQueueDry(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let client = DroverClient(store: f.store)
        for queue in ["b", "a"] {
            _ = try await client.submit(batch: (0..<50).map { _ in JobRequest(queue: queue, type: "note", payload: "\"\(queue)\"") })
        }
        let starts = Starts(count: 100)
        let worker = Worker(
            store: f.store, handlers: starts.handlers,
            configuration: .init(id: "strict", queues: ["a", "b"], concurrency: 1, maintenance: nil), logger: quietLogger)
        try await workers.running(worker) { await starts.enough.wait() }
        #expect(starts.all == Array(repeating: "\"a\"", count: 50) + Array(repeating: "\"b\"", count: 50))
    }

    @Test(arguments: StoreKind.allCases)
    func fourWorkersStartJobsInPriorityOrder(_ kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let client = DroverClient(store: f.store)
        let priorities = (0..<400).map { _ in Int.random(in: JobRequest.priorities) }
        let ids = try await client.submit(batch: priorities.map { JobRequest(type: "note", payload: "0", priority: $0) }).map(\.id)
        let starts = Starts(count: ids.count)
        let handlers = starts.handlers
        let fleet = (1...4).map { workers.worker(f.store, handlers, concurrency: 2, id: "p\($0)") }
        let tasks = fleet.map { worker in Task { try await worker.run() } }
        await starts.enough.wait()
        for id in ids { #expect(try await client.wait(for: id, timeout: .seconds(30)).state == .completed) }
        for worker in fleet { worker.shutdown() }
        for task in tasks { try await task.value }
        // Claims are atomic and take the best job waiting, so a job that started strictly
        // later (by the store's clock) never has a higher priority.
        var started: [(at: Int64, priority: Int)] = []
        for id in ids {
            let job = try #require(try await client.job(id))
            started.append((try #require(job.history.first { $0.state == .running }).at, job.priority))
        }
        // Jobs claimed in one millisecond share a time; compare only strictly ordered ones.
        let byTime = Dictionary(grouping: started, by: \.at).sorted { $0.key > $1.key }
        var inversions = 0
        var highestLater = Int.min
        for (_, group) in byTime {
            inversions += group.filter { $0.priority < highestLater }.count
            highestLater = max(highestLater, group.map(\.priority).max()!)
        }
        #expect(inversions == 0, "\(inversions) jobs started before a job of higher priority")
    }
}
