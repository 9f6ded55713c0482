import ArgumentParser
import Drover
import DroverCore
import DroverLocalRedis
import DroverProcess
import DroverRedis
import DroverRedisStore
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `drover bench` (the default): the whole suite against one Redis, as a table or JSON.
struct SuiteBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suite",
        abstract: "Measure throughput, latency and cost of the whole system; starts its own Redis unless given one.",
        discussion: """
            Runs, in order, against one Redis (a private redis-server unless --redis is given):
              enqueue     one-job submits from one client with many in flight, and batch submits
              memory      Redis memory per queued job (INFO memory before and after)
              processing  N queued no-op jobs, W 'drover worker' processes at concurrency C: the
                          rate from the first job taken to the last completed, Redis commands
                          per job (INFO commandstats), Redis and worker CPU per job, worker RSS,
                          connections per worker
              scale       processing with more jobs queued (must stay flat), and with more workers
              latency     submit -> COMPLETED seen by the client, one job at a time, idle worker

            Keys use the prefix 'dbench' and are deleted afterwards, so a shared Redis is left as
            it was. Report figures with the machine they ran on: they are only comparable on one.

            Examples:
              drover bench
              drover bench --jobs 100000 --workers 1,2,4 --scale 1000,100000,1000000 --json
              drover bench --redis redis://127.0.0.1:6379
            """
    )

    @OptionGroup var target: BenchTarget

    @Option(name: .long, help: "No-op jobs per processing and enqueue measurement.")
    var jobs: Int = 20000

    @Option(name: .long, help: "Jobs each worker runs at once.")
    var concurrency: Int = 10

    @Option(name: .long, help: "Worker process counts to measure processing with, comma-separated.")
    var workers: String = "1,2,4"

    @Option(name: .long, help: "Queue depths for the flatness check (one worker), comma-separated.")
    var scale: String = "1000,100000"

    @Option(name: .long, help: "Submits in flight for the one-by-one enqueue rate.")
    var inFlight: Int = 64

    @Option(name: .long, help: "Round trips for the latency measurement.")
    var latencySamples: Int = 1000

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard jobs >= 100 else { throw ValidationError("--jobs must be at least 100") }
        guard concurrency >= 1, inFlight >= 1, latencySamples >= 10 else {
            throw ValidationError("--concurrency and --in-flight must be at least 1, --latency-samples at least 10")
        }
        guard let counts = Self.numbers(workers), !counts.isEmpty, counts.allSatisfy({ $0 >= 1 && $0 <= 64 }) else {
            throw ValidationError("--workers must be numbers from 1 to 64, as in 1,2,4")
        }
        guard let depths = Self.numbers(scale), depths.allSatisfy({ $0 >= 100 }) else {
            throw ValidationError("--scale must be queue depths of at least 100, as in 1000,100000")
        }
    }

    static func numbers(_ text: String) -> [Int]? {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return parts.contains(nil) ? nil : parts.compactMap { $0 }
    }

    func run() async throws {
        let report = await target.measure(concurrency: concurrency) { bench in
            var report = BenchReport(machine: .current, redisVersion: try await bench.redisVersion())
            benchProgress("enqueue: \(jobs) jobs one by one (\(inFlight) in flight), then in batches")
            report.enqueue = try await bench.enqueue(jobs: jobs, inFlight: inFlight)
            benchProgress("memory: \(jobs) queued jobs")
            report.memoryPerQueuedJob = try await bench.memoryPerQueuedJob(jobs: jobs)
            for count in Self.numbers(workers)! {
                benchProgress("processing: \(jobs) jobs, \(count) worker process(es) at concurrency \(concurrency)")
                report.processing.append(try await bench.processing(jobs: jobs, workers: count))
            }
            for depth in Self.numbers(scale)! {
                benchProgress("scale: \(depth) jobs queued, 1 worker")
                report.scale.append(try await bench.processing(jobs: depth, workers: 1))
            }
            benchProgress("latency: \(latencySamples) jobs one at a time")
            report.latency = try await bench.latency(samples: latencySamples)
            benchProgress("prioritized: \(jobs) jobs of priority 5, 1 worker process")
            report.prioritized = try await bench.processing(jobs: jobs, workers: 1, priority: 5)
            benchProgress("scheduling: delayed jobs' lateness, cancel latency")
            report.scheduling = try await bench.scheduling(delayed: min(jobs, 500), cancels: 20)
            return report
        }
        print(json ? report.json : report.table)
    }

}

/// The Redis a bench measures on: the one given, or a private `redis-server` it starts and
/// stops. Either way the bench's keys are deleted before and after.
struct BenchTarget: ParsableArguments {
    @Option(
        name: .long, help: ArgumentHelp("Use this Redis instead of starting one (keys 'dbench:*' are used and deleted).", valueName: "url"))
    var redis: String?

    /// Runs `body` against the Redis, cleans up, and exits with the error if it throws.
    func measure<Result: Sendable>(concurrency: Int, _ body: (Bench) async throws -> Result) async -> Result {
        ConnectionOptions.bootstrapStandardErrorLogging(level: .error)
        var ownServer: LocalRedis?
        do {
            let url: String
            if let redis {
                url = redis
            } else {
                benchProgress("starting a private redis-server")
                let server = try await LocalRedis.start(password: nil)
                ownServer = server
                url = server.url
            }
            let bench = try await Bench(url: url, concurrency: concurrency, logger: Logger(label: "drover.bench"))
            do {
                try await bench.clean()
                let result = try await body(bench)
                try? await bench.clean()
                await bench.close()
                await ownServer?.stop()
                return result
            } catch {
                try? await bench.clean()
                await bench.close()
                throw error
            }
        } catch {
            await ownServer?.stop()
            fail("\(error)")
        }
    }
}

/// A progress line on standard error, so standard output holds only the report.
func benchProgress(_ message: String) {
    FileHandle.standardError.write(Data("bench: \(message)\n".utf8))
}

/// The measurements, each on its own queue under the `dbench` prefix.
final class Bench: Sendable {
    let url: String
    let concurrency: Int
    let store: RedisJobStore
    let redis: RedisClient
    let directory: String
    static let prefix = "dbench"

    init(url: String, concurrency: Int, logger: Logger) async throws {
        self.url = url
        self.concurrency = concurrency
        let configuration = try RedisConfiguration(url, clientName: "drover.bench")
        store = RedisJobStore(configuration: .init(redis: configuration, keys: KeySchema(prefix: Self.prefix)), logger: logger)
        redis = RedisClient(configuration: configuration)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-bench-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try await redis.send("PING")
    }

    func close() async {
        await store.close()
        await redis.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func redisVersion() async throws -> String {
        try await info("server")["redis_version"] ?? "?"
    }

    /// Deletes every key under the bench's prefix.
    func clean() async throws {
        var cursor = "0"
        repeat {
            let reply = try await redis.send("SCAN", cursor, "MATCH", "\(Self.prefix):*", "COUNT", 1000).array ?? []
            cursor = reply.first?.string ?? "0"
            let keys = (reply.count > 1 ? reply[1].array ?? [] : []).compactMap(\.string)
            if !keys.isEmpty { _ = try await redis.send(RedisCommand("UNLINK", keys)) }
        } while cursor != "0"
    }

    /// One `INFO` section as name → value.
    func info(_ section: String) async throws -> [String: String] {
        let text = try await redis.send("INFO", section).string ?? ""
        var values: [String: String] = [:]
        for line in text.split(separator: "\r\n") where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            values[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return values
    }

    /// Calls per command from `INFO commandstats`.
    func commandCalls() async throws -> [String: Int] {
        var calls: [String: Int] = [:]
        for (name, value) in try await info("commandstats") where name.hasPrefix("cmdstat_") {
            if let range = value.range(of: "calls="), let n = Int(value[range.upperBound...].prefix { $0.isNumber }) {
                calls[String(name.dropFirst("cmdstat_".count))] = n
            }
        }
        return calls
    }

    func redisCPUSeconds() async throws -> Double {
        let cpu = try await info("cpu")
        return (Double(cpu["used_cpu_user"] ?? "0") ?? 0) + (Double(cpu["used_cpu_sys"] ?? "0") ?? 0)
    }

    func submit(_ count: Int, queue: String, batch: Int = 1000, priority: Int? = nil) async throws -> [JobID] {
        var ids: [JobID] = []
        ids.reserveCapacity(count)
        var left = count
        while left > 0 {
            let n = min(batch, left)
            ids += try await store.submit(Array(repeating: JobRequest(queue: queue, type: "noop", priority: priority), count: n)).map(\.id)
            left -= n
        }
        return ids
    }

    func enqueue(jobs: Int, inFlight: Int) async throws -> EnqueueFigures {
        let request = JobRequest(queue: "enqueue", type: "noop")
        _ = try await store.submit([request])
        let perTask = max(1, jobs / inFlight)
        let store = self.store
        let oneByOne = try await measure(perTask * inFlight) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<inFlight {
                    group.addTask { for _ in 0..<perTask { _ = try await store.submit([request]) } }
                }
                try await group.waitForAll()
            }
        }
        let batch = try await measure(jobs) { _ = try await self.submit(jobs, queue: "enqueue") }
        try await clean()
        return EnqueueFigures(oneByOneJobsPerSecond: oneByOne, batchJobsPerSecond: batch, batchSize: 1000)
    }

    func memoryPerQueuedJob(jobs: Int) async throws -> Int {
        _ = try await submit(1, queue: "memory")  // the queue's own keys exist before the count starts
        let before = Int(try await info("memory")["used_memory"] ?? "0") ?? 0
        _ = try await submit(jobs, queue: "memory")
        let after = Int(try await info("memory")["used_memory"] ?? "0") ?? 0
        try await clean()
        return (after - before) / jobs
    }

    /// `jobs` queued first, then `workers` worker processes started; the rate counts from the
    /// first job taken to the last one completed.
    func processing(jobs: Int, workers: Int, priority: Int? = nil) async throws -> ProcessingFigures {
        let queue = "processing"
        _ = try await submit(jobs, queue: queue, batch: 5000, priority: priority)
        let callsBefore = try await commandCalls()
        let cpuBefore = try await redisCPUSeconds()
        var processes: [ChildProcess] = []
        defer { for process in processes { process.send(SIGKILL) } }
        for n in 0..<workers { processes.append(try startWorker(queue: queue, id: "bench-\(n)")) }
        // The workers run no maintenance (it is not what is measured), so a job one of them
        // hands back through a retry (a claim whose reply was lost on a loaded machine) is
        // queued again by a promoter here: about one call a second, nothing per job.
        var quiet = Logger(label: "drover.bench.promoter")
        quiet.logLevel = .error
        let promoter = Task { [store, quiet] in try await Promoter(store: store, logger: quiet).run() }
        defer { promoter.cancel() }
        // The clock starts when the first job leaves the queue: process start-up is not counted.
        var start: (ContinuousClock.Instant, done: Int)?
        let keys = KeySchema(prefix: Self.prefix).queue(queue)
        // A run that stops moving is reported with where its jobs are, not waited on forever.
        var progress = (done: -1, at: ContinuousClock.now)
        while true {
            let replies = try await redis.pipeline([
                RedisCommand("LLEN", keys.queued), RedisCommand("ZCARD", keys.completed), RedisCommand("ZCARD", keys.prioritized),
            ])
            // Prioritized jobs wait in the sorted set (the list holds their wake-ups).
            let (queued, done) = ((priority == nil ? replies[0].int : replies[2].int) ?? 0, replies[1].int ?? 0)
            if start == nil, queued < jobs || done > 0 {
                start = (.now, done)
            }
            if done >= jobs { break }
            if done != progress.done {
                progress = (done, .now)
            } else if ContinuousClock.now - progress.at > .seconds(60) {
                let counts = try await store.queueCounts().first { $0.queue == queue }
                throw BenchError("no job finished for 60 s, \(done) of \(jobs) done: \(counts.map { "\($0)" } ?? "no counts")")
            }
            if let exited = processes.first(where: { !$0.isRunning }) {
                throw BenchError("a worker exited: \(exited.output().suffix(500))")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        let elapsed = (ContinuousClock.now - start!.0).seconds
        let rate = Int(Double(jobs - start!.done) / max(elapsed, 1e-6))
        let calls = try await commandCalls()
        let cpu = try await redisCPUSeconds() - cpuBefore
        var workerCPU = 0.0
        var rss = 0.0
        for process in processes {
            let usage = Self.usage(of: process.pid)
            workerCPU += usage.cpuSeconds
            rss = max(rss, usage.rssMegabytes)
        }
        // What crosses the network: scripts and the few plain commands a worker sends; the
        // bench's own INFO and counting reads are left out.
        let ignored: Set<String> = ["info", "scan", "unlink", "ping", "llen", "hmget", "zcard", "smembers"]
        var sent = 0
        var executed = 0
        for (name, count) in calls where !ignored.contains(name) {
            let delta = count - (callsBefore[name] ?? 0)
            executed += delta
            if ["fcall", "blmove", "function|load", "client|setname", "client|id", "client|unblock", "sadd"].contains(name) {
                sent += delta
            }
        }
        try await clean()
        return ProcessingFigures(
            jobs: jobs, workers: workers, concurrency: concurrency, jobsPerSecond: rate,
            roundTripsPerJob: Double(sent) / Double(jobs), commandsExecutedPerJob: Double(executed) / Double(jobs),
            redisCPUMicrosecondsPerJob: cpu * 1e6 / Double(jobs), workerCPUMicrosecondsPerJob: workerCPU * 1e6 / Double(jobs),
            workerRSSMegabytes: rss)
    }

    /// A `drover worker` process (this executable) on the bench's keys, taking `queue`.
    func startWorker(queue: String, id: String, maintenance: Bool = false) throws -> ChildProcess {
        try ChildProcess(
            executable: RunJobCommand.executablePath,
            arguments: [
                "worker", "--redis", url, "--key-prefix", Self.prefix, "--queue", queue, "--concurrency", String(concurrency), "--id", id,
                "--log-level", "error",
            ] + (maintenance ? [] : ["--no-maintenance"]),
            logPath: directory + "/\(id).log")
    }

    /// CPU time and resident memory of a running process, from /proc.
    static func usage(of pid: pid_t) -> (cpuSeconds: Double, rssMegabytes: Double) {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var cpu = 0.0
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
            // Fields after the command name: state is field 3, utime 14, stime 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) { cpu = (user + system) / ticks }
        }
        var rss = 0.0
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        {
            rss = kilobytes / 1024
        }
        return (cpu, rss)
    }

    /// One job at a time to an idle worker: submit, then wait until the client sees it done.
    func latency(samples: Int) async throws -> LatencyFigures {
        let queue = "latency"
        let worker = try startWorker(queue: queue, id: "bench-latency")
        defer { worker.send(SIGKILL) }
        // Warm up: the worker is registered and blocked on its queue, the scripts are loaded.
        for _ in 0..<20 {
            let id = try await store.submit([JobRequest(queue: queue, type: "noop")])[0].id
            guard try await store.waitUntilFinished(id, queue: queue, timeout: .seconds(30))?.state == .completed else {
                throw BenchError("the latency worker did not complete a job: \(worker.output().suffix(500))")
            }
        }
        let clients = try await redis.send("CLIENT", "LIST").string ?? ""
        let connections = clients.split(separator: "\n").filter { $0.contains(" name=drover.worker") }.count
        var times: [Double] = []
        for _ in 0..<samples {
            let started = ContinuousClock.now
            let id = try await store.submit([JobRequest(queue: queue, type: "noop")])[0].id
            _ = try await store.waitUntilFinished(id, queue: queue, timeout: .seconds(30))
            times.append((ContinuousClock.now - started).seconds * 1000)
        }
        times.sort()
        try await clean()
        return LatencyFigures(
            connectionsPerWorker: connections, samples: samples, p50Milliseconds: times[times.count / 2],
            p99Milliseconds: times[times.count * 99 / 100],
            maxMilliseconds: times.last ?? 0)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
