import ArgumentParser
import DroverRedis
import Foundation
import Logging

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the Redis layer against a running Redis.",
        discussion: """
            Sends PING-sized commands three ways and prints operations per second:
              sequential   one command at a time, each awaited (one round trip each)
              concurrent   many Swift tasks sharing one connection (implicit pipelining)
              pipelined    batches written at once and awaited together

            Example:
              redis-server --port 6390 --save '' & drover bench --redis redis://127.0.0.1:6390
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

    private func measure(_ operations: Int, _ body: () async throws -> Void) async throws -> Int {
        let clock = ContinuousClock()
        let elapsed = try await clock.measure { try await body() }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Int(Double(operations) / seconds)
    }
}
