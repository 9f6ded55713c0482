// Fan a computation out over many jobs and gather the results: the sum of squares of
// 1...1_000_000, split into 100 chunks, submitted as one batch, run by a worker with 8 slots.
// With several worker processes (or machines) on the same Redis the chunks spread over all.
//   DROVER_REDIS_URL=redis://127.0.0.1:6379 swift run BatchFanOut
import Drover
import Foundation

struct Chunk: Codable, Sendable {
    var from: Int
    var to: Int
}

let url = ProcessInfo.processInfo.environment["DROVER_REDIS_URL"] ?? "redis://127.0.0.1:6379"
let client = try DroverClient(redisURL: url)

var handlers = JobHandlers()
handlers.register("sum-of-squares") { (chunk: Chunk, _) -> Int in
    (chunk.from...chunk.to).reduce(0) { $0 + $1 * $1 }
}
let worker = Worker(store: client.store, handlers: handlers, configuration: .init(queues: ["fan-out"], concurrency: 8))
let running = Task { try await worker.run() }

let chunks = stride(from: 1, through: 1_000_000, by: 10_000).map { Chunk(from: $0, to: $0 + 9_999) }
let jobs = try await client.submit(batch: chunks.map { try JobRequest(queue: "fan-out", type: "sum-of-squares", payload: $0) })
var total = 0
for job in jobs {
    total += try await client.result(of: job.id, as: Int.self, queue: "fan-out", timeout: .seconds(60))
}
print("sum of squares of 1...1000000 = \(total) from \(jobs.count) jobs")

worker.shutdown()
try await running.value
