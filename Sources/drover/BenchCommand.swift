import ArgumentParser
import Drover
import DroverCore
import DroverRedis
import DroverRemote
import Foundation
import Logging

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Drover: the whole suite (the default), a long soak, the Redis layer, or submits through a master.",
        subcommands: [SuiteBench.self, SoakBench.self, RedisBench.self, SubmitBench.self],
        defaultSubcommand: SuiteBench.self
    )
}

struct RedisBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis",
        abstract: "Measure the Redis layer against a running Redis.",
        discussion: """
            Sends PING-sized commands three ways and prints operations per second:
              sequential   one command at a time, each awaited (one round trip each)
              concurrent   many Swift tasks sharing one connection (implicit pipelining)
              pipelined    batches written at once and awaited together

            Example:
              redis-server --port 6390 --save '' & drover bench redis --redis redis://127.0.0.1:6390
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "Commands per measurement.")
    var count: Int = 100_000

    @Option(name: .long, help: "Tasks (concurrent) or batch size (pipelined).")
    var width: Int = 64

    func run() async throws {
        connection.bootstrapLogging()
        let client = RedisClient(configuration: try RedisConfiguration(connection.redis, clientName: "drover.bench"))
        defer { Task { await client.close() } }
        do { try await client.send("DEL", "drover:bench") } catch { fail("\(error)") }
        let command = RedisCommand("INCR", "drover:bench")
        let width = max(1, self.width)
        let count = max(width, self.count)

        let sequentialCount = min(count, 20_000)
        let sequential = try await measure(sequentialCount) {
            for _ in 0..<sequentialCount { try await client.send(command) }
        }
        let concurrent = try await measure(count) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<width {
                    group.addTask { for _ in 0..<(count / width) { try await client.send(command) } }
                }
                try await group.waitForAll()
            }
        }
        let batch = Array(repeating: command, count: width)
        let pipelined = try await measure(count) {
            for _ in 0..<(count / width) { _ = try await client.pipeline(batch) }
        }
        print("redis \(connection.redis), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("sequential   \(sequential) ops/s")
        print("concurrent   \(concurrent) ops/s (\(width) tasks, one connection)")
        print("pipelined    \(pipelined) ops/s (batches of \(width))")
    }

}

/// Operations per second of `body`, which performs `operations` of them.
func measure(_ operations: Int, _ body: () async throws -> Void) async throws -> Int {
    let elapsed = try await ContinuousClock().measure { try await body() }
    return Int(Double(operations) / elapsed.seconds)
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

struct SubmitBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Measure one client submitting jobs: straight to Redis, and through a master's REST and TCP doors.",
        discussion: """
            For each path: the latency of one submit at a time (p50/p99), and the rate with many
            submits in flight from this one client. The difference between the direct and the
            master paths is what going through the master costs.

            Example:
              drover bench submit --redis redis://127.0.0.1:6379 --http http://127.0.0.1:8080 --tcp tcp://127.0.0.1:7070
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "A master's REST URL.")
    var http: String?

    @Option(name: .long, help: "A master's TCP URL.")
    var tcp: String?

    @Option(name: .long, help: "Jobs per measurement.")
    var count: Int = 5000

    @Option(name: .long, help: "Submits in flight for the rate measurement.")
    var inFlight: Int = 32

    @Option(name: .long, help: "The queue to submit to (jobs are left there; use a scratch queue).")
    var queue: String = "bench"

    func run() async throws {
        connection.bootstrapLogging()
        var paths: [(String, any JobStore)] = [
            ("redis", try connection.redisStore(clientName: "drover.bench", logger: Logger(label: "bench")))
        ]
        if let http { paths.append(("REST", try RemoteJobStore(masterURL: http))) }
        if let tcp { paths.append(("TCP", try RemoteJobStore(masterURL: tcp))) }
        print("path   one-at-a-time p50    p99      rate with \(inFlight) in flight")
        for (name, store) in paths {
            let request = JobRequest(queue: queue, type: "noop")
            _ = try await store.submit([request])  // warm up connections and scripts
            var latencies: [Duration] = []
            for _ in 0..<min(count, 2000) {
                let started = ContinuousClock.now
                _ = try await store.submit([request])
                latencies.append(.now - started)
            }
            latencies.sort()
            let perTask = max(1, count / inFlight)
            let rate = try await measure(perTask * inFlight) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<inFlight {
                        group.addTask { for _ in 0..<perTask { _ = try await store.submit([request]) } }
                    }
                    try await group.waitForAll()
                }
            }
            let p50 = latencies[latencies.count / 2].seconds * 1000
            let p99 = latencies[latencies.count * 99 / 100].seconds * 1000
            print(
                name.padding(toLength: 7, withPad: " ", startingAt: 0) + String(format: "%8.3f ms  %8.3f ms  %9d jobs/s", p50, p99, rate))
            await store.close()
        }
    }
}
