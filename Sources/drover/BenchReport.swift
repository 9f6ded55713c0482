import Foundation

/// The machine the figures come from.
struct Machine: Codable {
    var cores: Int
    var memoryGiB: Double
    var system: String

    static var current: Machine {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return Machine(
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryGiB: (Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30) * 10).rounded() / 10,
            system: "Linux \(release)")
    }
}

struct EnqueueFigures: Codable {
    var oneByOneJobsPerSecond: Int
    var batchJobsPerSecond: Int
    var batchSize: Int
}

struct ProcessingFigures: Codable {
    var jobs: Int
    var workers: Int
    var concurrency: Int
    var jobsPerSecond: Int
    /// Commands clients sent (scripts count once).
    var roundTripsPerJob: Double
    /// Everything Redis executed, the commands inside scripts included.
    var commandsExecutedPerJob: Double
    var redisCPUMicrosecondsPerJob: Double
    var workerCPUMicrosecondsPerJob: Double
    var workerRSSMegabytes: Double
}

struct LatencyFigures: Codable {
    /// Redis connections of the idle worker process (one queue).
    var connectionsPerWorker: Int
    var samples: Int
    var p50Milliseconds: Double
    var p99Milliseconds: Double
    var maxMilliseconds: Double
}

struct SchedulingFigures: Codable {
    var delayed: Int
    /// How long after its due time a delayed job became QUEUED (Redis's clock).
    var delayLatenessP50Milliseconds: Double
    var delayLatenessP99Milliseconds: Double
    var delayLatenessMaxMilliseconds: Double
    /// Jobs queued before their due time (must be 0).
    var early: Int
    var cancels: Int
    /// From the cancel call to the client seeing the running job CANCELLED.
    var cancelP50Milliseconds: Double
    var cancelP99Milliseconds: Double
}

struct BenchReport: Codable {
    var machine: Machine
    var redisVersion: String
    var enqueue: EnqueueFigures?
    var memoryPerQueuedJob: Int?
    var processing: [ProcessingFigures] = []
    var scale: [ProcessingFigures] = []
    var latency: LatencyFigures?
    /// The processing run again with every job of priority 5, against `processing[0]`.
    var prioritized: ProcessingFigures?
    var scheduling: SchedulingFigures?

    var json: String { (try? Output.json(self)) ?? "{}" }

    var table: String {
        var lines = ["Drover bench — \(machine.cores) cores, \(machine.memoryGiB) GiB, \(machine.system), Redis \(redisVersion)", ""]
        if let enqueue {
            lines.append(
                "enqueue      one by one \(enqueue.oneByOneJobsPerSecond) jobs/s; batches of \(enqueue.batchSize) \(enqueue.batchJobsPerSecond) jobs/s"
            )
        }
        if let memoryPerQueuedJob { lines.append("memory       \(memoryPerQueuedJob) bytes of Redis memory per queued job") }
        if let latency {
            lines.append(
                String(
                    format: "latency      submit -> COMPLETED p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d jobs, one at a time)",
                    latency.p50Milliseconds,
                    latency.p99Milliseconds, latency.maxMilliseconds, latency.samples))
            lines.append("connections  \(latency.connectionsPerWorker) Redis connections per worker process (one queue)")
        }
        if let scheduling {
            lines.append(
                String(
                    format:
                        "delayed      queued after due time p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d of %d early (%d jobs, 0.1-2 s delays)",
                    scheduling.delayLatenessP50Milliseconds, scheduling.delayLatenessP99Milliseconds,
                    scheduling.delayLatenessMaxMilliseconds,
                    scheduling.early, scheduling.delayed, scheduling.delayed))
            lines.append(
                String(
                    format: "cancel       running job -> CANCELLED as the client sees it p50 %.1f ms, p99 %.1f ms (%d jobs)",
                    scheduling.cancelP50Milliseconds, scheduling.cancelP99Milliseconds, scheduling.cancels))
        }
        lines.append("")
        let header = ["run", "jobs", "workers", "jobs/s", "round trips/job", "commands/job", "Redis µs/job", "worker µs/job", "worker RSS"]
        var rows: [[String]] = []
        for (label, figures) in [("processing", processing), ("scale", scale), ("prioritized", prioritized.map { [$0] } ?? [])] {
            for row in figures {
                rows.append([
                    label, "\(row.jobs)", "\(row.workers)", "\(row.jobsPerSecond)", String(format: "%.2f", row.roundTripsPerJob),
                    String(format: "%.1f", row.commandsExecutedPerJob), String(format: "%.1f", row.redisCPUMicrosecondsPerJob),
                    String(format: "%.1f", row.workerCPUMicrosecondsPerJob), String(format: "%.0f MB", row.workerRSSMegabytes),
                ])
            }
        }
        lines += Output.tableLines(header, rows)
        return lines.joined(separator: "\n")
    }
}
