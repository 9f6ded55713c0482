import Drover
import DroverCore
import DroverRedis
import DroverRedisStore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Real `drover worker` processes, killed and stopped for real.
@Suite struct ProcessTests {
    /// A private Redis with a store, a client and a raw connection for assertions.
    struct Setup {
        let server: RedisServer
        let store: RedisJobStore
        let client: DroverClient
        let redis: RedisClient

        static func make() async throws -> Setup {
            let server = try await RedisServer.start()
            let store = RedisJobStore(configuration: .init(redis: try .init(server.url)), logger: quietLogger)
            return Setup(server: server, store: store, client: DroverClient(store: store), redis: try server.client())
        }

        func tearDown() async {
            await redis.close()
            await store.close()
            await server.stop()
        }
    }

    func startWorker(_ server: RedisServer, id: String, concurrency: Int, extra: [String] = []) throws -> ChildProcess {
        try ChildProcess(
            executable: try droverExecutable(),
            arguments: [
                "worker", "--redis", server.url, "--id", id, "--concurrency", "\(concurrency)", "--heartbeat-interval", "0.2",
                "--no-maintenance", "--log-level", "debug",
            ] + extra,
            logPath: server.directory + "/\(id).log")
    }

    @Test func theReaperRecoversEveryJobOfAWorkerKilledWithSIGKILL() async throws {
        let setup = try await Setup.make()
        defer { Task { await setup.tearDown() } }
        let (server, store, client) = (setup.server, setup.store, setup.client)

        // Eight jobs that would take an hour each: four run in the child, four wait.
        let ids = try await client.submit(
            batch: (0..<8).map { _ in JobRequest(type: "sleep", payload: #"{"ms":3600000}"#, maxAttempts: 3) }
        ).map(\.id)
        let victim = try startWorker(server, id: "victim", concurrency: 4)
        defer { victim.send(SIGKILL) }
        let running = try await eventually { try await client.queueCounts().first?.running == 4 }
        #expect(running, "the child worker never ran 4 jobs: \(victim.output().suffix(2000))")

        victim.send(SIGKILL)
        #expect(await victim.waitForExit(timeout: .seconds(10)) != nil)

        // A survivor whose "sleep" is instant, with a reaper that gives up on silent workers after 1 s.
        var handlers = JobHandlers()
        handlers.registerRaw("sleep") { _, context in #""done by \#(context.worker)""# }
        let survivor = Worker(
            store: store, handlers: handlers,
            configuration: .init(
                id: "survivor", concurrency: 4, heartbeatInterval: .milliseconds(200), fetchTimeout: .seconds(1),
                maintenance: .init(heartbeatTimeout: .seconds(1), reaperInterval: .milliseconds(100), promoterInterval: .milliseconds(50))),
            logger: quietLogger)
        let task = Task { try await survivor.run() }
        var reassigned = 0
        for id in ids {
            let job = try await client.wait(for: id, timeout: .seconds(60))
            #expect(job.state == .completed)
            #expect(job.result == #""done by survivor""#)
            if job.history.contains(where: { $0.state == .failed && $0.error?.hasPrefix("worker lost: victim") == true }) {
                reassigned += 1
                #expect(job.attempt == 2)
                #expect(job.history.map(\.state).suffix(6) == [.failed, .retryQueued, .queued, .assigned, .running, .completed])
            }
        }
        survivor.shutdown()
        try await task.value
        #expect(reassigned == 4)
        #expect(try await client.workers().isEmpty)
        let counts = try #require(try await client.queueCounts().first)
        #expect(counts.completed == 8 && counts.running == 0 && counts.queued == 0 && counts.retryQueued == 0)
    }

    @Test func sigtermStopsAWorkerGracefully() async throws {
        let setup = try await Setup.make()
        defer { Task { await setup.tearDown() } }
        let (server, client) = (setup.server, setup.client)
        // Long enough that SIGTERM lands while the first two run, even on a loaded machine.
        let ids = try await client.submit(batch: (0..<4).map { _ in JobRequest(type: "sleep", payload: #"{"ms":2500}"#) }).map(\.id)
        let worker = try startWorker(server, id: "graceful", concurrency: 2)
        defer { worker.send(SIGKILL) }
        #expect(try await eventually { try await client.queueCounts().first?.running == 2 })
        worker.send(SIGTERM)
        let status = await worker.waitForExit(timeout: .seconds(20))
        #expect(status == 0, "exit status \(String(describing: status)): \(worker.output().suffix(2000))")
        let states = try await ids.asyncMap { try await client.job($0)!.state }
        #expect(states.filter { $0 == .completed }.count == 2)
        #expect(states.filter { $0 == .queued }.count == 2)
        #expect(try await client.workers().isEmpty)
        #expect(worker.output().contains("worker stopped"))
    }

    @Test func aWorkerProcessKeepsAFixedNumberOfConnectionsWhateverItsConcurrency() async throws {
        let setup = try await Setup.make()
        defer { Task { await setup.tearDown() } }
        let (server, client, redis) = (setup.server, setup.client, setup.redis)

        var connections: [Int: Int] = [:]
        for concurrency in [1, 64] {
            let worker = try startWorker(server, id: "c\(concurrency)", concurrency: concurrency, extra: ["--queue", "a", "--queue", "b"])
            defer { worker.send(SIGKILL) }
            // Jobs on both queues make the worker open everything it ever opens.
            let ids = try await client.submit(batch: (0..<200).map { JobRequest(queue: $0 % 2 == 0 ? "a" : "b", type: "noop") }).map(\.id)
            for id in ids { _ = try await client.wait(for: id, timeout: .seconds(60)) }
            let list = try #require(try await redis.send("CLIENT", "LIST").string)
            connections[concurrency] = list.split(separator: "\n").filter { $0.contains("name=drover.worker") }.count
            await worker.stop()
        }
        // One connection for commands, one per queue for blocking fetches, and one subscribed
        // for cancel requests and due times.
        #expect(connections == [1: 4, 64: 4])
    }

    @Test func redisCommandsPerJob() async throws {
        let setup = try await Setup.make()
        defer { Task { await setup.tearDown() } }
        let (server, client, redis) = (setup.server, setup.client, setup.redis)
        let jobs = 2000
        try await redis.send("CONFIG", "RESETSTAT")
        let ids = try await client.submit(batch: (0..<jobs).map { _ in JobRequest(type: "noop") }).map(\.id)
        let worker = try startWorker(server, id: "counted", concurrency: 16)
        defer { worker.send(SIGKILL) }
        #expect(try await client.wait(for: ids.last!, timeout: .seconds(120)).state == .completed)
        #expect(try await eventually { try await client.queueCounts()[0].completed == jobs })
        await worker.stop()
        let stats = try #require(try await redis.send("INFO", "commandstats").string)
        var calls: [String: Int] = [:]
        for line in stats.split(separator: "\r\n") where line.hasPrefix("cmdstat_") {
            let name = line.dropFirst("cmdstat_".count).prefix { $0 != ":" }
            if let range = line.range(of: "calls="), let n = Int(line[range.upperBound...].prefix { $0.isNumber }) {
                calls[String(name)] = n
            }
        }
        // commandstats also counts the commands scripts run inside Redis; what crosses the
        // network is the scripts themselves plus the few plain commands a worker sends.
        // (This test's own reads are plain HGETALL/LLEN/… and are left out.)
        let sent = ["fcall", "blmove", "sadd", "function|load", "client|setname", "zrem"].compactMap { calls[$0] }.reduce(0, +)
        let executed = calls.filter { !["info", "config|resetstat", "hgetall", "smembers", "subscribe", "exists"].contains($0.key) }.values
            .reduce(0, +)
        let perJob = Double(sent) / Double(jobs)
        print(
            "redis round trips per job: \(String(format: "%.2f", perJob)); commands executed per job, scripts' included: "
                + "\(String(format: "%.1f", Double(executed) / Double(jobs))) (\(calls.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")))"
        )
        // A batch submit, one claim script per batch of free slots, one completion script per job.
        #expect(perJob <= 2.1)
    }

    @Test func theSimpleTaskExampleRunsAsPrinted() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let example = URL(fileURLWithPath: try droverExecutable()).deletingLastPathComponent().appendingPathComponent("SimpleTask").path
        let process = try ChildProcess(
            executable: example, arguments: [], environment: ["DROVER_REDIS_URL": server.url, "DROVER_LOG_LEVEL": "error"],
            logPath: server.directory + "/example.log")
        defer { process.send(SIGKILL) }
        #expect(await process.waitForExit(timeout: .seconds(60)) == 0)
        #expect(process.output().contains("Hello, Drover! (attempt 1)"), "\(process.output())")
    }

    @Test func theBenchSuiteRunsOnItsOwnRedisAndReportsJSON() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-bench-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Small numbers: this checks that every measurement runs and reports, not the figures.
        let bench = try ChildProcess(
            executable: try droverExecutable(),
            arguments: ["bench", "--jobs", "300", "--workers", "1,2", "--scale", "200", "--latency-samples", "20", "--json"],
            logPath: directory + "/bench.log")
        defer { bench.send(SIGKILL) }
        let status = await bench.waitForExit(timeout: .seconds(180))
        let output = bench.output()
        #expect(status == 0, "\(output.suffix(2000))")
        let json = try #require(output.firstIndex(of: "{").map { String(output[$0...]) })
        let fields = try JSONScanner.objectFields(json)
        let processing = try #require(fields["processing"])
        #expect(processing.contains(#""workers" : 2"#) && processing.contains(#""jobsPerSecond""#))
        #expect(fields["latency"]?.contains("p99Milliseconds") == true)
        #expect(Int(fields["memoryPerQueuedJob"] ?? "") ?? 0 > 0)
        #expect(fields["prioritized"]?.contains(#""jobsPerSecond""#) == true)
        let scheduling = try #require(fields["scheduling"])
        #expect(scheduling.contains(#""early" : 0"#) && scheduling.contains("cancelP99Milliseconds"), "\(scheduling)")
    }

    @Test func theDemoRunsAndEndsAsExpected() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-demo-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let demo = try ChildProcess(executable: try droverExecutable(), arguments: ["demo"], logPath: directory + "/demo.log")
        defer { demo.send(SIGKILL) }
        let status = await demo.waitForExit(timeout: .seconds(180))
        let output = demo.output()
        #expect(status == 0, "\(output.suffix(3000))")
        #expect(output.contains("Everything ended as expected."))
        // The summary shows retries, a reassignment and dead letters.
        let rows = output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        let slow = try #require(rows.first { $0.first == "slow" })
        let doomed = try #require(rows.first { $0.first == "doomed" })
        let flaky = try #require(rows.first { $0.first == "flaky" })
        #expect(Int(slow[5]) ?? 0 > 0, "no job was reassigned: \(output.suffix(2000))")
        #expect(doomed[3] == "4" && flaky[2] == "6" && flaky[4] == "6")
        #expect(output.contains("redis-cli -p ") && output.contains("curl -s http://127.0.0.1:") && output.contains("drover status "))
        // The second act: a delayed job, a paused queue, a priority job overtaking, a cancel.
        #expect(output.contains("delayed 2 s: SCHEDULED") && output.contains("none starts (paused: true)"))
        #expect(output.contains("submitted last, started first") && output.contains("CANCELLED"))
        let cron = try #require(output.split(separator: "\n").first { $0.contains("cron '* * * * * *'") })
        #expect(cron.contains("each one job"), "\(cron)")
        // The third act: a workflow's join queued by its last parent's completion, a batch's callback.
        #expect(output.contains("demo-etl in demo-flow: COMPLETED, 4 of 4 completed"), "\(output.suffix(3000))")
        #expect(output.contains("by the call that completed its last parent (same ms)"), "\(output.suffix(3000))")
        #expect(output.contains("onComplete COMPLETED") && output.contains("onSuccess WAITING"), "\(output.suffix(3000))")
    }

    @Test func theBatchFanOutExampleComputesTheSum() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let example = URL(fileURLWithPath: try droverExecutable()).deletingLastPathComponent().appendingPathComponent("BatchFanOut").path
        let process = try ChildProcess(
            executable: example, arguments: [], environment: ["DROVER_REDIS_URL": server.url], logPath: server.directory + "/fan-out.log")
        defer { process.send(SIGKILL) }
        #expect(await process.waitForExit(timeout: .seconds(120)) == 0)
        // n(n+1)(2n+1)/6 for n = 1,000,000
        #expect(process.output().contains("= 333333833333500000 from 100 jobs"), "\(process.output().suffix(2000))")
    }

    @Test(arguments: [
        ["--help"], ["master", "--help"], ["worker", "--help"], ["submit", "--help"], ["status", "--help"], ["wait", "--help"],
        ["jobs", "--help"], ["queues", "--help"], ["workers", "--help"], ["dlq", "--help"], ["dlq", "list", "--help"],
        ["dlq", "retry", "--help"], ["dlq", "purge", "--help"], ["demo", "--help"], ["bench", "redis", "--help"],
        ["bench", "submit", "--help"], ["queues", "limit", "--help"], ["queues", "pause", "--help"], ["schedule", "--help"],
        ["schedule", "add", "--help"], ["schedule", "list", "--help"], ["schedule", "rm", "--help"], ["schedule", "pause", "--help"],
        ["schedule", "resume", "--help"], ["workflow", "--help"], ["workflow", "submit", "--help"], ["workflow", "status", "--help"],
        ["workflow", "cancel", "--help"], ["batch", "--help"], ["batch", "create", "--help"], ["batch", "add", "--help"],
        ["batch", "close", "--help"],
    ])
    func everyCommandsHelpHasAnExample(_ arguments: [String]) async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("drover-help-\(UUID().uuidString.prefix(8)).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let process = try ChildProcess(executable: try droverExecutable(), arguments: arguments, logPath: log)
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
        let help = process.output()
        #expect(help.contains("Example"), "\(arguments): \(help)")
        #expect(help.contains("drover "), "\(arguments): \(help)")
    }

    @Test func errorsAreOneClearLineAndANonZeroExit() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("drover-err-\(UUID().uuidString.prefix(8)).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let (process, status) = try await LocalRedis.withRefusingPort { port in
            let process = try ChildProcess(
                executable: try droverExecutable(), arguments: ["queues", "--redis", "redis://127.0.0.1:\(port)"], logPath: log)
            return (process, await process.waitForExit(timeout: .seconds(30)))
        }
        #expect(status != 0 && status != nil)
        let lines = process.output().split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("drover: ") && lines[0].contains("cannot connect to Redis"), "\(process.output())")
    }
}
