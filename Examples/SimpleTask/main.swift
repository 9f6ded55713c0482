// The shortest complete Drover program: define a typed job, run a worker, submit, wait.
// Run it against your Redis:  DROVER_REDIS_URL=redis://127.0.0.1:6379 swift run SimpleTask
import Drover
import Foundation

struct Greeting: Codable, Sendable { var name: String }

let url = ProcessInfo.processInfo.environment["DROVER_REDIS_URL"] ?? "redis://127.0.0.1:6379"
let client = try DroverClient(redisURL: url)

var handlers = JobHandlers()
handlers.register("greet") { (greeting: Greeting, context) in
    "Hello, \(greeting.name)! (attempt \(context.attempt))"
}
let worker = Worker(store: client.store, handlers: handlers)
let running = Task { try await worker.run() }

let job = try await client.submit(type: "greet", payload: Greeting(name: "Drover"))
print(try await client.result(of: job.id, as: String.self, timeout: .seconds(10)))

worker.shutdown()
try await running.value
