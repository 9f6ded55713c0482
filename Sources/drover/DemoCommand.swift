import ArgumentParser
import Drover
import DroverCore
import DroverLocalRedis
import DroverMaster
import DroverProcess
import DroverRedis
import DroverRedisStore
import DroverRemote
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a whole Drover cluster on this machine and watch it work.",
        discussion: """
            Starts a private redis-server (in a temporary directory, on a free port), a master and
            three worker processes; submits a mixed batch through the master's REST door: quick
            jobs, slow jobs, flaky jobs that succeed after retries and jobs that always fail and end
            in the dead-letter queue; kills one worker with SIGKILL while it runs slow jobs, whose
            jobs the reaper hands to the others. Shows progress per state, then a summary and the
            commands to look deeper. Exits 0 when everything ended as expected. Everything it
            started is stopped on exit, Ctrl-C included.

            Examples:
              drover demo
              drover demo --stay          (keep the cluster up afterwards to try the commands)
              drover demo --redis redis://127.0.0.1:6379   (use your Redis; jobs go to queue "demo")
            """
    )

    @Option(name: .long, help: "Use this Redis instead of starting a private one.")
    var redis: String?

    @Flag(name: .long, help: "Keep the cluster running after the summary, until Ctrl-C.")
    var stay = false

    @Option(name: .long, help: "Log level of the demo's own components.")
    var logLevel: String = "error"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .error
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let cluster = DemoCluster()
        let work = Task { try await Demo(cluster: cluster, stay: stay).run(redisURL: redis) }
        // Ctrl-C or SIGTERM: stop the demo, then clean up below like any other ending.
        let signals = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { work.cancel() }
            source.resume()
            return source
        }
        let result = await work.result
        await cluster.stop()
        for source in signals { source.cancel() }
        switch result {
        case .success(true): return
        case .success(false): throw ExitCode(1)
        case .failure(is CancellationError): throw ExitCode(130)
        case .failure(let error): fail("\(error)")
        }
    }
}

/// Everything the demo started, to stop whatever happens.
final class DemoCluster: Sendable {
    private struct State {
        var redis: LocalRedis?
        var master: (group: ServiceGroup, task: Task<Void, any Error>)?
        var workers: [ChildProcess] = []
        var stores: [any JobStore] = []
    }

    private let state = Mutex(State())

    func add(redis: LocalRedis) { state.withLock { $0.redis = redis } }
    func add(master group: ServiceGroup, _ task: Task<Void, any Error>) { state.withLock { $0.master = (group, task) } }
    func add(worker: ChildProcess) { state.withLock { $0.workers.append(worker) } }
    func add(store: any JobStore) { state.withLock { $0.stores.append(store) } }
    var workers: [ChildProcess] { state.withLock { $0.workers } }
    var redisDirectory: String? { state.withLock { $0.redis?.directory } }

    func stop() async {
        let s = state.withLock { $0 }
        for worker in s.workers { worker.send(SIGTERM) }
        for worker in s.workers { await worker.stop(grace: .seconds(5)) }
        if let master = s.master {
            await master.group.triggerGracefulShutdown()
            _ = try? await master.task.value
        }
        for store in s.stores { await store.close() }
        await s.redis?.stop()
    }
}

struct Demo {
    let cluster: DemoCluster
    let stay: Bool
    let queue = "demo"

    struct Kind {
        var name: String
        var type: String
        var payload: String
        var count: Int
        var maxAttempts: Int
        var backoff: BackoffPolicy
        var expected: JobState
    }

    let kinds = [
        Kind(
            name: "quick", type: "echo", payload: #"{"hello":"drover"}"#, count: 40, maxAttempts: 3, backoff: .fixed(ms: 200),
            expected: .completed),
        Kind(
            name: "slow", type: "sleep", payload: #"{"ms":2000}"#, count: 12, maxAttempts: 3, backoff: .fixed(ms: 200), expected: .completed
        ),
        Kind(
            name: "flaky", type: "flaky", payload: #"{"failTimes":2}"#, count: 6, maxAttempts: 5, backoff: .fixed(ms: 500),
            expected: .completed),
        Kind(
            name: "doomed", type: "fail", payload: #"{"message":"this job always fails"}"#, count: 4, maxAttempts: 3,
            backoff: .fixed(ms: 300),
            expected: .deadLetter),
    ]

    func say(_ text: String) {
        print(text)
        fflush(nil)  // keep the story in order with the progress lines on standard error
    }

    /// Returns whether everything ended as expected.
    func run(redisURL: String?) async throws -> Bool {
        say("Drover demo\n")
        // 1. Redis
        let url: String
        if let redisURL {
            url = redisURL
            say("• Redis: \(url) (yours)")
        } else {
            let redis = try await LocalRedis.start(password: nil)
            cluster.add(redis: redis)
            url = redis.url
            say("• Redis: \(url) (private, in \(redis.directory))")
        }
        let logger = Logger(label: "drover.demo")
        let store = RedisJobStore(configuration: .init(redis: try RedisConfiguration(url, clientName: "drover.demo")), logger: logger)
        cluster.add(store: store)

        // 2. Master
        // Ports the kernel picks as the doors bind: a port merely found free beforehand could be
        // taken by another program before the master binds it.
        var configuration = Master.Configuration()
        configuration.httpPort = 0
        configuration.tcpPort = 0
        configuration.maintenance.heartbeatTimeout = .seconds(3)
        configuration.maintenance.reaperInterval = .milliseconds(250)
        configuration.maintenance.promoterInterval = .milliseconds(100)
        let httpPort = OneShot<Int>()
        let (services, tcp) = try Master(store: store, configuration: configuration, logger: logger).services(onHTTPRunning: {
            httpPort.finish(.success($0))
        })
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        cluster.add(
            master: group,
            Task {
                do {
                    try await group.run()
                } catch {
                    httpPort.finish(.failure(error))
                    throw error
                }
            })
        let http = "http://127.0.0.1:\(try await httpPort.wait())"
        let tcpURL = "tcp://127.0.0.1:\(try await tcp.boundPort)"
        let viaMaster = try RemoteJobStore(masterURL: http)
        cluster.add(store: viaMaster)
        guard await poll(timeout: .seconds(20), { (try? await viaMaster.queueCounts()) != nil }) else {
            throw DemoError("the master did not come up")
        }
        say("• Master: REST \(http), TCP \(tcpURL), dashboard \(http)/ui")

        // 3. Workers, as processes of their own
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let logs = cluster.redisDirectory ?? FileManager.default.temporaryDirectory.path
        for n in 1...3 {
            cluster.add(
                worker: try ChildProcess(
                    executable: executable,
                    arguments: [
                        "worker", "--redis", url, "--id", "demo-worker-\(n)", "--queue", queue, "--queue", Self.flowQueue,
                        "--concurrency", "4",
                        "--heartbeat-interval", "0.5",
                        "--heartbeat-timeout", "3", "--log-level", "warning",
                    ],
                    logPath: "\(logs)/demo-worker-\(n).log"))
        }
        guard await poll(timeout: .seconds(20), { (try? await store.workers().count) ?? 0 >= 3 }) else {
            throw DemoError("the workers did not register; see \(logs)/demo-worker-*.log")
        }
        say("• Workers: demo-worker-1, demo-worker-2, demo-worker-3 (4 jobs at a time each)\n")

        // 4. The batch, through the master's REST door
        var requests: [JobRequest] = []
        var kindOf: [Int] = []
        for (k, kind) in kinds.enumerated() {
            for _ in 0..<kind.count {
                requests.append(
                    JobRequest(queue: queue, type: kind.type, payload: kind.payload, maxAttempts: kind.maxAttempts, backoff: kind.backoff))
                kindOf.append(k)
            }
        }
        let ids = try await DroverClient(store: viaMaster).submit(batch: requests).map(\.id)
        say("Submitted \(ids.count) jobs: " + kinds.map { "\($0.count) \($0.name) (\($0.type))" }.joined(separator: ", "))

        // 5. Kill a worker in the middle of slow jobs
        var victimHeld = 0
        _ = await poll(timeout: .seconds(20)) {
            victimHeld =
                (try? await store.jobs(queue: queue, state: .running, limit: 100).filter {
                    $0.worker == "demo-worker-1" && $0.type == "sleep"
                }.count) ?? 0
            return victimHeld > 0
        }
        cluster.workers[0].send(SIGKILL)
        say(
            "Killed demo-worker-1 with SIGKILL while it ran \(victimHeld) slow job(s): the reaper hands them to the others after 3 s of silence.\n"
        )

        // 6. Progress until every job is COMPLETED or DEAD_LETTER
        let started = ContinuousClock.now
        var lastLine = ""
        while true {
            try Task.checkCancellation()
            let c = try await store.queueCounts().first { $0.queue == queue } ?? QueueCounts(queue: queue)
            let done = c.completed + c.deadLetter
            let detail = "queued \(c.queued)  running \(c.running)  retry \(c.retryQueued)  completed \(c.completed)  dead \(c.deadLetter)"
            if Output.isTerminal || detail != lastLine {
                Output.progress("progress", done: min(done, ids.count), total: ids.count, detail: detail)
                lastLine = detail
            }
            if done >= ids.count { break }
            if ContinuousClock.now - started > .seconds(120) { throw DemoError("jobs did not finish within 2 minutes: \(detail)") }
            try await Task.sleep(for: .milliseconds(Output.isTerminal ? 200 : 1000))
        }

        // 7. Summary
        var jobs: [Job] = []
        for id in ids { if let job = try await store.job(id, queue: queue) { jobs.append(job) } }
        var allGood = jobs.count == ids.count
        var rows: [[String]] = []
        var sampleDead: JobID?
        var sampleReassigned: JobID?
        for (k, kind) in kinds.enumerated() {
            let mine = zip(kindOf, jobs).filter { $0.0 == k }.map(\.1)
            let asExpected = mine.filter { $0.state == kind.expected }.count
            let retried = mine.filter { $0.attempt > 1 }.count
            let reassigned = mine.filter { $0.history.contains { $0.error?.hasPrefix("worker lost") == true } }
            if kind.expected == .deadLetter, sampleDead == nil { sampleDead = mine.first?.id }
            if sampleReassigned == nil { sampleReassigned = reassigned.first?.id }
            allGood = allGood && asExpected == kind.count
            rows.append([
                kind.name, "\(kind.count)", "\(mine.filter { $0.state == .completed }.count)",
                "\(mine.filter { $0.state == .deadLetter }.count)",
                "\(retried)", "\(reassigned.count)",
                asExpected == kind.count ? "as expected (\(kind.expected.rawValue))" : "NOT as expected",
            ])
        }
        let reassignedTotal = jobs.filter { $0.history.contains { $0.error?.hasPrefix("worker lost") == true } }.count
        allGood = allGood && (victimHeld == 0 || reassignedTotal > 0)
        say("")
        Output.table(["JOBS", "SUBMITTED", "COMPLETED", "DEAD_LETTER", "RETRIED", "REASSIGNED", "RESULT"], rows)
        say(
            "\nFinished in \(Int((ContinuousClock.now - started).seconds)) s. "
                + (allGood ? "Everything ended as expected." : "Something did not end as expected."))

        // 8. Delayed, paused, prioritized and cancelled jobs
        let flowGood = try await runFlowControl(DroverClient(store: viaMaster))
        allGood = allGood && flowGood
        say(flowGood ? "  Everything ended as expected." : "  Something did not end as expected.")

        // 9. A workflow and a batch
        let workflowsGood = try await runWorkflows(DroverClient(store: viaMaster))
        allGood = allGood && workflowsGood
        say(workflowsGood ? "  Everything ended as expected." : "  Something did not end as expected.")

        // 10. Where to look next
        let port = URL(string: url.replacingOccurrences(of: "redis://", with: "http://"))?.port ?? 6379
        say(
            "\nLook deeper"
                + (stay ? " (the cluster stays up until Ctrl-C):" : " (run `drover demo --stay` to keep the cluster up and try these):"))
        say("  redis-cli -p \(port) lrange 'drover:{\(queue)}:queued' 0 -1")
        say("  redis-cli -p \(port) zrange 'drover:{\(queue)}:dead' 0 -1 withscores")
        if let sampleDead { say("  redis-cli -p \(port) hgetall 'drover:{\(queue)}:job:\(sampleDead)'") }
        say("  open \(http)/ui in a browser: the dashboard")
        say("  curl -s \(http)/v1/queues")
        say("  curl -s '\(http)/v1/dead-letters?queue=\(queue)'")
        say("  curl -s \(http)/metrics | grep drover_jobs")
        if let sampleReassigned { say("  drover status \(sampleReassigned) --redis \(url)        # a job whose worker was killed") }
        say("  drover dlq list --queue \(queue) --redis \(url)")
        say("  drover workers --redis \(url)")
        say("  redis-cli -p \(port) keys 'drover:{\(Self.flowQueue)}:workflow:*'")
        if stay {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        }
        return allGood
    }

    /// Re-checks `condition` until it holds or `timeout` passes.
    func poll(timeout: Duration, _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}

struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
