import ArgumentParser
import DroverCore
import DroverLocalRedis
import DroverRedis
import DroverRedisStore
import Foundation
import Logging

/// `drover bench soak`: one worker kept busy for minutes, its memory sampled throughout.
struct SoakBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Keep one worker busy for a while and sample its resident memory: it must stay flat.",
        discussion: """
            Starts a private redis-server unless --redis is given, one 'drover worker' process,
            and keeps its queue topped up with no-op jobs for --minutes. Every --every seconds it
            samples the worker's resident memory (/proc) and the jobs done so far. Completed jobs
            are deleted as the run goes (the bench trims them after 5 s), so Redis does not fill up.

            Examples:
              drover bench soak --minutes 10
              drover bench soak --minutes 1 --every 5 --json
            """
    )

    @OptionGroup var target: BenchTarget

    @Option(name: .long, help: "How long to keep the worker busy.")
    var minutes: Double = 10

    @Option(name: .long, help: "Seconds between samples.")
    var every: Int = 30

    @Option(name: .long, help: "Jobs the worker runs at once.")
    var concurrency: Int = 10

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard minutes > 0, every >= 1, concurrency >= 1 else {
            throw ValidationError("--minutes must be above 0, --every and --concurrency at least 1")
        }
    }

    struct Sample: Codable {
        var seconds: Int
        var jobsDone: Int
        var workerRSSMegabytes: Double
    }

    struct Report: Codable {
        var machine: Machine
        var minutes: Double
        var concurrency: Int
        var jobsPerSecond: Int
        var samples: [Sample]
        /// Resident memory at the first sample after the first minute (warmed up) and at the end.
        var warmRSSMegabytes: Double
        var finalRSSMegabytes: Double
    }

    func run() async throws {
        let report = await target.measure(concurrency: concurrency) { try await soak($0) }
        print(json ? try Output.json(report) : table(report))
    }

    private func soak(_ bench: Bench) async throws -> Report {
        let queue = "soak"
        let keys = KeySchema(prefix: Bench.prefix).queue(queue)
        let trimmer = RedisJobStore(
            configuration: .init(
                redis: try RedisConfiguration(bench.url, clientName: "drover.bench.trim"), keys: KeySchema(prefix: Bench.prefix),
                retention: RetentionPolicy(completed: .seconds(5))))
        defer { Task { await trimmer.close() } }
        _ = try await bench.submit(20_000, queue: queue)
        let worker = try bench.startWorker(queue: queue, id: "soak-0")
        defer { worker.send(SIGKILL) }

        let started = ContinuousClock.now
        let end = started + .milliseconds(Int(minutes * 60_000))
        var nextSample = started
        var samples: [Sample] = []
        var done = 0
        while true {
            let now = ContinuousClock.now
            // Topped up in batches, trimmed as it goes: the worker never waits and Redis stays small.
            let queued = try await bench.redis.send("LLEN", keys.queued).int ?? 0
            if queued < 10_000 { _ = try await bench.submit(10_000, queue: queue) }
            let trimmed = try await trimmer.trim()
            done += trimmed.completedRemoved
            if now >= nextSample || now >= end {
                guard worker.isRunning else { throw BenchError("the worker exited: \(worker.output().suffix(500))") }
                let completedNow = try await bench.redis.send("ZCARD", keys.completed).int ?? 0
                let rss = (Bench.usage(of: worker.pid).rssMegabytes * 10).rounded() / 10
                let sample = Sample(seconds: Int((now - started).seconds), jobsDone: done + completedNow, workerRSSMegabytes: rss)
                samples.append(sample)
                benchProgress("soak \(sample.seconds) s, \(sample.jobsDone) jobs, worker RSS \(rss) MB")
                nextSample = now + .seconds(every)
            }
            if now >= end { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        let last = samples.last!
        let warm = samples.first { $0.seconds >= 60 } ?? samples[min(1, samples.count - 1)]
        return Report(
            machine: .current, minutes: minutes, concurrency: concurrency,
            jobsPerSecond: Int(Double(last.jobsDone) / max(1, Double(last.seconds))), samples: samples,
            warmRSSMegabytes: warm.workerRSSMegabytes, finalRSSMegabytes: last.workerRSSMegabytes)
    }

    private func table(_ report: Report) -> String {
        var lines = [
            "Drover soak — \(report.machine.cores) cores, \(report.machine.memoryGiB) GiB, \(report.machine.system)",
            "\(report.minutes) min, 1 worker at concurrency \(report.concurrency), \(report.jobsPerSecond) jobs/s on average",
            "worker RSS after the first minute \(report.warmRSSMegabytes) MB, at the end \(report.finalRSSMegabytes) MB", "",
        ]
        lines += Output.tableLines(
            ["seconds", "jobs done", "worker RSS MB"],
            report.samples.map { ["\($0.seconds)", "\($0.jobsDone)", "\($0.workerRSSMegabytes)"] })
        return lines.joined(separator: "\n")
    }
}
