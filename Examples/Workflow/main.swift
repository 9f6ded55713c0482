// An ETL workflow: extract three sources, clean each, then load them in one fan-in step that
// writes its report exactly once, even when a worker dies right after writing it.
//   DROVER_REDIS_URL=redis://127.0.0.1:6379 swift run Workflow
// Processes can share the work: `Workflow worker` only runs a worker (start several), `Workflow
// submit` only submits the workflow and waits for it. Reports go to ETL_REPORT_DIR (a temporary
// directory by default). With ETL_CRASH_AFTER_REPORT=1 a worker kills itself right after
// writing a report and before reporting the job done: the job's next attempt, on another
// worker, finds the report in the job's effect ledger and does not write it again.
import Drover
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct Source: Codable, Sendable {
    var name: String
    var rows: Int
}

struct Extracted: Codable, Sendable {
    var source: String
    var values: [Int]
}

struct Cleaned: Codable, Sendable {
    var source: String
    var rows: Int
    var sum: Int
}

struct Report: Codable, Sendable {
    var path: String
    var rows: Int
    var total: Int
}

let environment = ProcessInfo.processInfo.environment
let url = environment["DROVER_REDIS_URL"] ?? "redis://127.0.0.1:6379"
let reportDirectory = environment["ETL_REPORT_DIR"] ?? NSTemporaryDirectory() + "drover-etl"
let crashAfterReport = environment["ETL_CRASH_AFTER_REPORT"] == "1"
let client = try DroverClient(redisURL: url)

var handlers = JobHandlers()
handlers.register("extract") { (source: Source, _) -> Extracted in
    // Stands in for reading a database or a file: some rows are bad (negative).
    Extracted(source: source.name, values: (1...source.rows).map { ($0 * 7919 + source.name.count) % 1000 - 100 })
}
handlers.register("clean") { (_: [String: String], context) -> Cleaned in
    guard let name = context.parentResults.keys.first, let extracted = try context.parentResult(name, as: Extracted.self) else {
        throw CocoaError(.fileReadNoSuchFile)
    }
    let good = extracted.values.filter { $0 >= 0 }
    return Cleaned(source: extracted.source, rows: good.count, sum: good.reduce(0, +))
}
handlers.register("load") { (_: [String: String], context) -> Report in
    var cleaned: [Cleaned] = []
    for name in context.parentResults.keys.sorted() { cleaned += [try context.parentResult(name, as: Cleaned.self)].compactMap { $0 } }
    let rows = cleaned.map(\.rows).reduce(0, +)
    let total = cleaned.map(\.sum).reduce(0, +)
    // The effect: a report in a directory, outside Redis. `once` records where it went in the
    // job's ledger; a later attempt gets that back instead of writing a second report.
    let report = try await context.once("write-report") { () throws -> Report in
        try FileManager.default.createDirectory(atPath: reportDirectory, withIntermediateDirectories: true)
        let path = reportDirectory + "/report-\(context.id).json"
        let lines = cleaned.map { #"{"source":"\#($0.source)","rows":\#($0.rows),"sum":\#($0.sum)}"# }
        try ("[" + lines.joined(separator: ",") + "]\n").write(toFile: path, atomically: true, encoding: .utf8)
        // Every write is logged, to count them.
        let logPath = reportDirectory + "/writes.log"
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try log.seekToEnd()
        log.write(Data("\(context.id) attempt \(context.attempt)\n".utf8))
        try log.close()
        return Report(path: path, rows: rows, total: total)
    }
    if crashAfterReport && context.attempt == 1 {
        // Unbuffered, so the line is out before the process dies.
        FileHandle.standardError.write(Data("load \(context.id): report written, now dying before the job is reported done\n".utf8))
        kill(getpid(), SIGKILL)
    }
    return report
}

@MainActor func runWorker() -> (Worker, Task<Void, any Error>) {
    let worker = Worker(store: client.store, handlers: handlers, configuration: .init(queues: ["etl"], concurrency: 4))
    return (worker, Task { try await worker.run() })
}

@MainActor func submitAndWait() async throws {
    let sources = [Source(name: "orders", rows: 500), Source(name: "refunds", rows: 80), Source(name: "visits", rows: 2000)]
    var jobs: [WorkflowJob] = []
    for source in sources {
        jobs.append(WorkflowJob(name: "extract-\(source.name)", job: try JobRequest(queue: "etl", type: "extract", payload: source)))
        jobs.append(
            WorkflowJob(
                name: "clean-\(source.name)", job: JobRequest(queue: "etl", type: "clean"),
                dependsOn: [WorkflowEdge("extract-\(source.name)")]))
    }
    jobs.append(
        WorkflowJob(
            name: "load", job: JobRequest(queue: "etl", type: "load", maxAttempts: 3, backoff: .fixed(ms: 100)),
            dependsOn: sources.map { WorkflowEdge("clean-\($0.name)") }))
    let workflow = try await client.submit(workflow: WorkflowRequest(queue: "etl", name: "nightly-etl", jobs: jobs))
    print("workflow \(workflow.id): \(jobs.count) jobs")
    let status = try await client.wait(forWorkflow: workflow.id, queue: "etl", timeout: .seconds(120))
    for job in status.jobs {
        let parents = job.dependsOn.isEmpty ? "" : " after \(job.dependsOn.joined(separator: ", "))"
        print("  \(job.name): \(job.state?.rawValue ?? "?") (attempt \(job.attempt))\(parents)")
    }
    guard status.state == .completed, let load = status.jobs.last else {
        print("workflow ended \(status.state.rawValue)")
        exit(1)
    }
    let report = try await client.result(of: load.id, as: Report.self, queue: "etl", timeout: .seconds(1))
    let log = (try? String(contentsOfFile: reportDirectory + "/writes.log", encoding: .utf8)) ?? ""
    let writes = log.split(separator: "\n").filter { $0.hasPrefix(load.id.rawValue) }.count
    print("loaded \(report.rows) rows, total \(report.total), into \(report.path); the report was written \(writes) time(s)")
}

switch CommandLine.arguments.dropFirst().first {
case "worker":
    let (_, running) = runWorker()
    try await running.value
case "submit":
    try await submitAndWait()
default:
    let (worker, running) = runWorker()
    try await submitAndWait()
    worker.shutdown()
    try await running.value
}
