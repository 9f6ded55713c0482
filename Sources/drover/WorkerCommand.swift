import ArgumentParser
import Drover
import DroverCore
import DroverMaintenance
import Foundation
import Logging
import ServiceLifecycle

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker with the built-in handlers.",
        discussion: """
            Built-in job types:
              noop               does nothing
              echo               returns its payload
              sleep  {"ms":N}    sleeps N milliseconds (cancellable)
              fail   {"message":"..."}   always throws
              flaky  {"failTimes":N}     fails its first N attempts, then succeeds
              cpu    {"n":N}     hashes N times
              crash  {}          kills the whole worker process (a trap), for fault drills

            The worker also runs the reaper, promoter and janitor unless --no-maintenance is
            given; they are safe to run in every worker and master at once.

            With --isolate each job runs in a child process of its own: a handler that crashes
            costs its job an attempt ("handler process was killed by signal …") and nothing else.

            Examples:
              drover worker
              drover worker --queue emails --queue default --concurrency 50
              drover worker --queue critical:6 --queue default:3 --queue low:1   (weighted)
              drover worker --redis redis://:secret@redis.internal:6379/2 --heartbeat-interval 1
              drover worker --master http://master.internal:8080       (no Redis access needed)
              drover worker --master tcp://master.internal:7070
              drover worker --isolate --concurrency 4
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A queue to take jobs from; repeat for several: strictly earlier first, or with weights (NAME:WEIGHT) each first in proportion to its weight.",
            valueName: "name[:weight]"))
    var queue: [String] = []

    /// `--queue` names and weights (empty when none has one).
    func queues() throws -> (names: [String], weights: [String: Int]) {
        var names: [String] = []
        var weights: [String: Int] = [:]
        for entry in queue {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            do { try Names.validateQueue(parts.first ?? "") } catch { throw ValidationError("\(error)") }
            if parts.count == 2 {
                guard let weight = Int(parts[1]), (1...1000).contains(weight) else {
                    throw ValidationError("the weight in --queue \(entry) must be a whole number from 1 to 1000")
                }
                weights[parts[0]] = weight
            }
            guard !names.contains(parts[0]) else { throw ValidationError("--queue \(parts[0]) is given twice") }
            names.append(parts[0])
        }
        return (names.isEmpty ? ["default"] : names, weights)
    }

    @Option(name: .long, help: "How many jobs run at once.")
    var concurrency: Int = 10

    @Option(name: .long, help: "Worker id (default: host-pid-random).")
    var id: String?

    @Option(name: .long, help: "Seconds between heartbeats.")
    var heartbeatInterval: Double = 2

    @Option(name: .long, help: "Seconds of silence after which this worker's reaper counts another worker as lost.")
    var heartbeatTimeout: Double = 10

    @Option(name: .long, help: "Seconds a job may run when it sets no timeout of its own.")
    var jobTimeout: Double = 1800

    @Option(name: .long, help: "Seconds running jobs get to finish after SIGTERM/SIGINT.")
    var shutdownGrace: Double = 25

    @Flag(name: .long, help: "Do not run the reaper, promoter and janitor in this worker.")
    var noMaintenance = false

    @Flag(name: .long, help: "Run each job in a child process of its own, so a crashing handler costs only its job.")
    var isolate = false

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard heartbeatInterval > 0, heartbeatTimeout > heartbeatInterval else {
            throw ValidationError("--heartbeat-timeout must be longer than --heartbeat-interval")
        }
        _ = try queues()
    }

    func run() async throws {
        connection.bootstrapLogging(server: true)
        let logger = Logger(label: "drover.worker")
        let store: any JobStore
        do { store = try connection.store(clientName: "drover.worker", logger: logger) } catch { fail("\(error)") }
        // A worker going through a master leaves maintenance to the master.
        let remote = connection.master != nil
        let (names, weights) = try queues()
        var configuration = Worker.Configuration(
            queues: names, concurrency: concurrency, heartbeatInterval: Duration(seconds: heartbeatInterval),
            jobTimeout: Duration(seconds: jobTimeout), shutdownGracePeriod: Duration(seconds: shutdownGrace),
            maintenance: noMaintenance || remote ? nil : Maintenance.Configuration(heartbeatTimeout: Duration(seconds: heartbeatTimeout)),
            weights: weights)
        if let id { configuration.id = id }
        var handlers = BuiltinHandlers.all
        if isolate {
            // A crashing child reports its one line and goes: Swift's backtracer would hold its
            // job's slot for seconds. Set SWIFT_BACKTRACE to have the backtraces anyway.
            let backtrace = ProcessInfo.processInfo.environment["SWIFT_BACKTRACE"] ?? "enable=no"
            handlers = handlers.isolated(
                command: [RunJobCommand.executablePath, RunJobCommand.configuration.commandName!],
                environment: ["SWIFT_BACKTRACE": backtrace])
        }
        let worker = Worker(store: store, handlers: handlers, configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await store.close()
            fail("\(error)")
        }
        await store.close()
    }
}

/// The handlers `drover worker` runs: enough for demos, tests and benchmarks.
enum BuiltinHandlers {
    struct Sleep: Codable, Sendable { var ms: Int }
    struct Fail: Codable, Sendable { var message: String? }
    struct Flaky: Codable, Sendable { var failTimes: Int }
    struct CPU: Codable, Sendable { var n: Int }

    struct HandlerError: Error, CustomStringConvertible {
        var description: String
    }

    static var all: JobHandlers {
        var handlers = JobHandlers()
        handlers.registerRaw("noop") { _, _ in "null" }
        handlers.registerRaw("echo") { payload, _ in payload }
        handlers.register("sleep") { (p: Sleep, _) in
            try await Task.sleep(for: .milliseconds(max(0, p.ms)))
        }
        handlers.register("fail") { (p: Fail, _) in
            throw HandlerError(description: p.message ?? "failed on purpose")
        }
        handlers.register("flaky") { (p: Flaky, context) -> String in
            guard context.attempt > p.failTimes else {
                throw HandlerError(description: "flaky: attempt \(context.attempt) of the first \(p.failTimes) fails")
            }
            return "succeeded on attempt \(context.attempt)"
        }
        handlers.registerRaw("crash") { _, context in
            // A trap, not a thrown error: the process dies with every job it holds, and the
            // reaper must recover them all.
            fatalError("crash handler: job \(context.id) attempt \(context.attempt) takes the worker down")
        }
        handlers.register("cpu") { (p: CPU, _) -> String in
            // FNV-1a over a counter: pure CPU work with a checkable result.
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for i in 0..<max(0, p.n) {
                hash = (hash ^ UInt64(truncatingIfNeeded: i)) &* 0x100_0000_01b3
                if i & 0xFFFF == 0 { try Task.checkCancellation() }
            }
            return String(hash, radix: 16)
        }
        return handlers
    }
}

/// `drover run-job`: the child process of `drover worker --isolate`. Reads one job on standard
/// input, runs the built-in handler, answers on standard output.
struct RunJobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-job", abstract: "Run one job read from standard input (used by 'drover worker --isolate').",
        shouldDisplay: false)

    /// This program's own path, for starting copies of itself.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    func run() async throws {
        // Standard output carries the answer: logs go to standard error, as the worker's do.
        ConnectionOptions.bootstrapStandardErrorLogging(level: .info)
        let status = await BuiltinHandlers.all.runOneJob()
        if status != 0 { throw ExitCode(status) }
    }
}
