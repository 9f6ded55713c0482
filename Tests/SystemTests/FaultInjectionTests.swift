import Drover
import DroverCore
import DroverRedis
import DroverRedisStore
import DroverRemote
import DroverTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Real processes, real faults, then a full audit of Redis: every submitted job in exactly one
/// terminal state, no id lost or duplicated in any list or set, nothing stuck, every history a
/// legal path. Handler executions that may have run twice (allowed: at least once) are counted.
@Suite(.serialized) struct FaultInjectionTests {

    /// A mixed batch: quick, slow and flaky jobs.
    static func submitMix(_ store: RedisJobStore, count: Int) async throws -> [JobID] {
        let requests = (0..<count).map { i -> JobRequest in
            switch i % 10 {
            case 0...5: JobRequest(type: "noop", maxAttempts: 10, backoff: .fixed(ms: 20))
            case 6...7: JobRequest(type: "sleep", payload: #"{"ms":100}"#, maxAttempts: 10, backoff: .fixed(ms: 20))
            default: JobRequest(type: "flaky", payload: #"{"failTimes":1}"#, maxAttempts: 10, backoff: .fixed(ms: 20))
            }
        }
        var ids: [JobID] = []
        for chunk in stride(from: 0, to: requests.count, by: 500) {
            ids += try await store.submit(Array(requests[chunk..<min(chunk + 500, requests.count)])).map(\.id)
        }
        return ids
    }

    struct Audit: CustomStringConvertible {
        var jobs = 0
        var completed = 0
        var deadLettered = 0
        var lost: [String] = []
        var problems: [String] = []
        var possibleDuplicates = 0
        var staleReports = 0

        /// No submitted job is gone, and every invariant of the audit held.
        func expectNothingLostOrWrong(sourceLocation: SourceLocation = #_sourceLocation) {
            let (lost, problems) = (lost.count, problems.prefix(10))
            #expect(lost == 0, "lost: \(self.lost.prefix(5))", sourceLocation: sourceLocation)
            #expect(problems.isEmpty, "\(problems)", sourceLocation: sourceLocation)
        }

        var description: String {
            "jobs \(jobs), completed \(completed), dead letters \(deadLettered), lost \(lost.count), problems \(problems.count), "
                + "possibly run twice \(possibleDuplicates), stale reports refused \(staleReports)"
        }
    }

    /// Waits until every job is terminal (or, when jobs may have been lost, until nothing is
    /// left to run for a second), then checks every invariant against Redis itself.
    static func audit(
        _ cluster: ProcessCluster, ids: [JobID], timeout: Duration = .seconds(120), lossExpected: Bool = false
    ) async throws -> Audit {
        var idleSince: ContinuousClock.Instant?
        let finished = await eventually(timeout: timeout) {
            // A failover may fail a read: asked again.
            guard let c = try? await cluster.store.queueCounts().first(where: { $0.queue == "default" }) else { return false }
            // Counted against the jobs left to run: a submit retried through a fault may have
            // added jobs nobody was told of, which count as finished too.
            let idle = c.queued + c.assigned + c.running + c.retryQueued + c.scheduled == 0
            if idle && c.completed + c.deadLetter >= ids.count { return true }
            guard lossExpected, idle else {
                idleSince = nil
                return false
            }
            idleSince = idleSince ?? .now
            return ContinuousClock.now - idleSince! > .seconds(1)
        }
        var audit = Audit()
        if !finished { audit.problems.append("not every job finished within \(timeout)") }
        let r = cluster.redis
        let queued = Set((try await r.send("LRANGE", "drover:{default}:queued", 0, -1).array ?? []).compactMap(\.string))
        let retry = Set((try await r.send("ZRANGE", "drover:{default}:retry", 0, -1).array ?? []).compactMap(\.string))
        let completed = (try await r.send("ZRANGE", "drover:{default}:completed", 0, -1).array ?? []).compactMap(\.string)
        let dead = (try await r.send("ZRANGE", "drover:{default}:dead", 0, -1).array ?? []).compactMap(\.string)
        let activeKeys = (try await r.send("KEYS", "drover:{default}:active:*").array ?? []).compactMap(\.string)
        var active: [String] = []
        for key in activeKeys { active += (try await r.send("LRANGE", key, 0, -1).array ?? []).compactMap(\.string) }
        let completedSet = Set(completed)
        let deadSet = Set(dead)
        if completedSet.count != completed.count { audit.problems.append("an id is in the completed set twice") }
        for id in ids {
            audit.jobs += 1
            guard let job = try await cluster.store.job(id, queue: "default") else {
                audit.lost.append(id.rawValue)
                continue
            }
            let key = id.rawValue
            let places = [
                queued.contains(key), retry.contains(key), completedSet.contains(key), deadSet.contains(key), active.contains(key),
            ]
            switch job.state {
            case .completed:
                audit.completed += 1
                if places != [false, false, true, false, false] { audit.problems.append("\(key) COMPLETED but listed as \(places)") }
            case .deadLetter:
                audit.deadLettered += 1
                if places != [false, false, false, true, false] { audit.problems.append("\(key) DEAD_LETTER but listed as \(places)") }
            default:
                audit.problems.append("\(key) is stuck in \(job.state.rawValue)")
            }
            // Every step of the history is a legal move.
            let states = job.history.map(\.state)
            if states.first != .submitted { audit.problems.append("\(key) history does not start with SUBMITTED") }
            for (from, to) in zip(states, states.dropFirst()) where !from.canMove(to: to) {
                audit.problems.append("\(key) moved \(from.rawValue) → \(to.rawValue)")
            }
            // A worker that was presumed lost may still have run the handler to the end.
            let lostWorker = job.history.filter { $0.state == .failed && ($0.error?.hasPrefix("worker lost") == true) }.count
            if job.state == .completed && lostWorker > 0 { audit.possibleDuplicates += lostWorker }
        }
        audit.staleReports = try await cluster.store.queueCounts().first { $0.queue == "default" }?.staleReports ?? 0
        return audit
    }

    @Test func workersKilledWithSIGKILLOverAndOverLoseNothing() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        for n in 1...3 { try cluster.startWorker("w\(n)") }
        let ids = try await Self.submitMix(cluster.store, count: 2000)
        // Kill the oldest worker every 400 ms and start a fresh one, eight times.
        var live = ["w1", "w2", "w3"]
        var kills = 0
        for round in 0..<8 {
            try await Task.sleep(for: .milliseconds(400))
            let victim = live.removeFirst()
            guard let process = cluster.worker(victim) else { continue }
            process.send(SIGKILL)
            _ = await process.waitForExit(timeout: .seconds(5))
            kills += 1
            let fresh = "w\(round + 4)"
            try cluster.startWorker(fresh)
            live.append(fresh)
        }
        let audit = try await Self.audit(cluster, ids: ids)
        print("SIGKILL scenario: \(kills) kills; \(audit)")
        audit.expectNothingLostOrWrong()
        #expect(audit.completed + audit.deadLettered == ids.count)
    }

    @Test func aWorkerFrozenPastTheTimeoutIsReplacedAndItsLateReportsAreRefused() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        for n in 1...2 { try cluster.startWorker("w\(n)") }
        // Slow jobs, so the frozen worker is holding some when it stops.
        let ids = try await cluster.store.submit((0..<200).map { _ in JobRequest(type: "sleep", payload: #"{"ms":300}"#, maxAttempts: 10) })
            .map(\.id)
        let frozen = try #require(cluster.worker("w1"))
        #expect(
            try await eventually {
                try await cluster.store.jobs(queue: "default", state: .running, limit: 100).contains { $0.worker == "w1" }
            })
        frozen.send(SIGSTOP)
        // Frozen for 3 s against a heartbeat timeout of 1 s: the master reassigns its jobs.
        #expect(try await eventually(timeout: .seconds(20)) { try await cluster.store.workers().allSatisfy { $0.id != "w1" } })
        try await Task.sleep(for: .seconds(2))
        frozen.send(SIGCONT)
        let audit = try await Self.audit(cluster, ids: ids)
        print("SIGSTOP scenario: \(audit)")
        audit.expectNothingLostOrWrong()
        #expect(audit.completed == ids.count)
        // The thawed worker finished what it had and reported it: fencing refused those reports.
        #expect(
            try await eventually(timeout: .seconds(20)) {
                (try await cluster.store.queueCounts().first?.staleReports ?? 0) > 0
            })
    }

    @Test(.enabled(if: getuid() == 0, "needs root for ip netns"))
    func aWorkerCutOffFromRedisByTheNetworkIsReplacedAndItsLateReportsAreRefused() async throws {
        // The cut-off worker lives in a network namespace of its own, reaching Redis over a veth
        // pair and a bridge (169.254.77.1 is the bridge's address in this namespace).
        let network = try NetworkNamespaceClusterTests.Network(hosts: ["cut"])
        defer { network.tearDown() }
        let cluster = try await ProcessCluster(redisArguments: ["--bind", "127.0.0.1", "169.254.77.1"])
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        for n in 1...2 { try cluster.startWorker("w\(n)") }
        let url = cluster.server.url.replacingOccurrences(of: "127.0.0.1", with: "169.254.77.1")
        cluster.adopt(
            "cut",
            try network.spawn(
                "cut",
                [
                    try droverExecutable(), "worker", "--redis", url, "--id", "cut", "--concurrency", "8", "--heartbeat-interval", "0.2",
                    "--no-maintenance", "--log-level", "warning",
                ],
                log: cluster.server.directory + "/cut.log"))
        // Slow jobs among the mix, so the worker is holding some when its cable is pulled.
        var ids = try await cluster.store.submit((0..<200).map { _ in JobRequest(type: "sleep", payload: #"{"ms":300}"#, maxAttempts: 10) })
            .map(\.id)
        ids += try await Self.submitMix(cluster.store, count: 1000)
        #expect(
            try await eventually(timeout: .seconds(30)) {
                try await cluster.store.workers().contains { $0.id == "cut" && $0.inFlight > 0 }
            }, "the namespaced worker never took a job: \(cluster.worker("cut")?.output().suffix(500) ?? "")")
        try network.setLink("cut", up: false)
        let cutAt = ContinuousClock.now
        // Silent past the 1 s heartbeat timeout: the master hands its jobs to the others.
        #expect(try await eventually(timeout: .seconds(20)) { try await cluster.store.workers().allSatisfy { $0.id != "cut" } })
        let reassignedAfter = ContinuousClock.now - cutAt
        try network.setLink("cut", up: true)
        let audit = try await Self.audit(cluster, ids: ids)
        print("network cut scenario: jobs reassigned \(reassignedAfter) after the cut; \(audit)")
        audit.expectNothingLostOrWrong()
        #expect(audit.completed == ids.count)
        // Back on the network, the worker reports what it finished meanwhile: fencing refuses it.
        #expect(
            try await eventually(timeout: .seconds(30)) {
                (try await cluster.store.queueCounts().first?.staleReports ?? 0) > 0
            })
    }

    @Test func aHandlerThatCrashesItsProcessEndsInTheDeadLetterQueueAndCostsNothingElse() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        for n in 1...2 { try cluster.startWorker("w\(n)") }
        // Whatever dies is replaced, as a process supervisor (systemd, Kubernetes) would.
        let supervisor = Task {
            var live = ["w1", "w2"]
            var next = 3
            while !Task.isCancelled {
                for id in live where cluster.worker(id)?.isRunning == false {
                    live.removeAll { $0 == id }
                    let fresh = "w\(next)"
                    next += 1
                    try? cluster.startWorker(fresh)
                    live.append(fresh)
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        defer { supervisor.cancel() }
        var ids = try await cluster.store.submit((0..<100).map { _ in JobRequest(type: "sleep", payload: #"{"ms":200}"#, maxAttempts: 10) })
            .map(\.id)
        let crasher = try await cluster.store.submit([JobRequest(type: "crash", maxAttempts: 2, backoff: .fixed(ms: 10))])[0].id
        ids.append(crasher)
        let audit = try await Self.audit(cluster, ids: ids)
        print("crash scenario: \(audit)")
        audit.expectNothingLostOrWrong()
        let job = try #require(try await cluster.store.job(crasher, queue: "default"))
        #expect(job.state == .deadLetter)
        #expect(job.attempt == 2)
        #expect(job.error?.hasPrefix("worker lost") == true)
        #expect(audit.completed == 100 && audit.deadLettered == 1)
    }

    @Test func inIsolationACrashingHandlerCostsOnlyItsOwnJob() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        try cluster.startWorker("isolated", ["--isolate"])
        let worker = try #require(cluster.worker("isolated"))
        var ids = try await cluster.store.submit((0..<40).map { i in JobRequest(type: "echo", payload: "\(i)") }).map(\.id)
        let crasher = try await cluster.store.submit([JobRequest(type: "crash", maxAttempts: 2, backoff: .fixed(ms: 10))])[0].id
        ids.append(crasher)
        let thrower = try await cluster.store.submit([JobRequest(type: "fail", payload: #"{"message":"boom"}"#, maxAttempts: 1)])[0].id
        ids.append(thrower)
        ids += try await cluster.store.submit((0..<40).map { _ in JobRequest(type: "sleep", payload: #"{"ms":50}"#) }).map(\.id)
        let audit = try await Self.audit(cluster, ids: ids)
        print("isolation scenario: \(audit)")
        audit.expectNothingLostOrWrong()
        #expect(audit.completed == 80 && audit.deadLettered == 2)
        // Results and thrown errors cross the process boundary unchanged.
        #expect(try await cluster.store.job(ids[7], queue: "default")?.result == "7")
        #expect(try await cluster.store.job(thrower, queue: "default")?.error == "boom")
        // The crash failed its own job, twice, with the signal as the reason...
        let job = try #require(try await cluster.store.job(crasher, queue: "default"))
        #expect(job.state == .deadLetter && job.attempt == 2)
        #expect(job.error?.contains("killed by signal 4") == true, "\(job.error ?? "")")
        // ...and nothing else: the worker never died, so no job was taken back from it.
        #expect(worker.isRunning)
        #expect(audit.possibleDuplicates == 0)
        #expect(try await cluster.store.statistics()["default"]?["reassigned"] ?? 0 == 0)
    }

    @Test func redisKilledAndRestartedMidRunLosesNoAcknowledgedJob() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        for n in 1...3 { try cluster.startWorker("w\(n)") }
        // Every one of these submits was acknowledged: with appendfsync always, each is on disk.
        let ids = try await Self.submitMix(cluster.store, count: 2000)
        #expect(try await eventually { (try await cluster.store.queueCounts().first?.completed ?? 0) > 200 })
        cluster.server.process.send(SIGKILL)
        #expect(await cluster.server.process.waitForExit(timeout: .seconds(10)) != nil)
        let restarted = try await RedisServer.restart(cluster.server)
        defer { Task { await restarted.stop() } }
        // Clients, workers and the master reconnect by themselves; nobody is told anything.
        let audit = try await Self.audit(cluster, ids: ids)
        print("Redis SIGKILL scenario: \(audit)")
        audit.expectNothingLostOrWrong()
        #expect(audit.completed + audit.deadLettered == ids.count)
    }

    @Test func theMasterKilledAndRestartedMidRunLosesNothingAndRemoteWorkersReconnect() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        try cluster.startWorker("direct")
        try cluster.startRemoteWorker("remote-http", via: "http://127.0.0.1:\(cluster.httpPort)")
        try cluster.startRemoteWorker("remote-tcp", via: "tcp://127.0.0.1:\(cluster.tcpPort)")
        let ids = try await Self.submitMix(cluster.store, count: 1500)
        #expect(try await eventually { (try await cluster.store.queueCounts().first?.completed ?? 0) > 150 })
        cluster.master.send(SIGKILL)
        #expect(await cluster.master.waitForExit(timeout: .seconds(10)) != nil)
        // Direct workers carry on without any master.
        let before = try await cluster.store.queueCounts().first?.completed ?? 0
        #expect(try await eventually { (try await cluster.store.queueCounts().first?.completed ?? 0) > before + 100 })
        try cluster.startMaster()
        let restartedAt = Int64(Date().timeIntervalSince1970 * 1000)
        let audit = try await Self.audit(cluster, ids: ids)
        print("master SIGKILL scenario: \(audit)")
        audit.expectNothingLostOrWrong()
        // Both remote workers came back through the new master (they heartbeat again).
        #expect(
            try await eventually {
                let seen = try await cluster.store.workers().filter { ($0.lastHeartbeat ?? 0) > restartedAt }.map(\.id)
                return seen.contains("remote-http") && seen.contains("remote-tcp")
            })
    }
}
