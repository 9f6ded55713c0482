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

/// Drover past one Redis: a master and worker processes given `redis+cluster://` (three
/// primaries with a replica each) or `redis+sentinel://` (a primary, a replica, three
/// Sentinels); the queue's slot moved by `redis-cli --cluster reshard`, or its primary
/// SIGKILLed mid-run; then the fault-injection suite's audit.
@Suite(.serialized) struct FailoverProcessTests {
    /// Submits `count` jobs of the mix in chunks, each chunk retried until the cluster takes it
    /// (a failover in progress refuses writes for a while); returns every acknowledged id.
    static func submitThroughFaults(_ store: RedisJobStore, count: Int) async throws -> [JobID] {
        var ids: [JobID] = []
        while ids.count < count {
            var chunk: [JobID] = []
            let taken = await eventually(timeout: .seconds(60)) {
                guard let submitted = try? await FaultInjectionTests.submitMix(store, count: min(100, count - ids.count)) else {
                    return false
                }
                chunk = submitted
                return true
            }
            #expect(taken, "the cluster took no job for 60 s")
            if !taken { break }
            ids += chunk
        }
        return ids
    }

    @Test func aReshardOfTheQueuesSlotDuringARunLosesNothing() async throws {
        let servers = try await RedisClusterServers.start()
        defer { Task { await servers.stop() } }
        let cluster = try await ProcessCluster(on: servers)
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        for n in 1...2 { try cluster.startWorker("w\(n)") }
        let ids = try await FaultInjectionTests.submitMix(cluster.store, count: 2000)
        #expect(try await eventually { (try await cluster.store.queueCounts().first?.completed ?? 0) >= 100 })

        // `redis-cli --cluster reshard` moves a node's lowest slots first: moving as many as
        // lie from the start of its range up to the queue's slot moves the queue's too.
        let slot = ClusterSlot.of("drover:{default}:queued".utf8)
        let primaries = try await servers.primaries()
        let owner = try #require(primaries.first { $0.ranges.contains { $0.contains(slot) } })
        let target = try #require(primaries.first { $0.node.port != owner.node.port }).node
        let start = owner.ranges.first { $0.contains(slot) }!.lowerBound
        let movedAt = ContinuousClock.now
        try await servers.redisCLI(cluster: [
            "reshard", "127.0.0.1:\(owner.node.port)", "--cluster-from", try await servers.id(of: owner.node), "--cluster-to",
            try await servers.id(of: target), "--cluster-slots", String(slot - start + 1), "--cluster-yes",
        ])
        let reshard = ContinuousClock.now - movedAt
        let now = try await servers.primary(forKey: "drover:{default}:queued")
        #expect(now.port == target.port, "the queue's slot did not move")
        // Jobs submitted after the move land on the new node: this store's map was out of
        // date, and the old node's MOVED said where to go.
        let redirectsBefore = cluster.store.redis.clusterRedirectsFollowed
        let more = try await Self.submitThroughFaults(cluster.store, count: 500)
        #expect(cluster.store.redis.clusterRedirectsFollowed > redirectsBefore)

        let audit = try await FaultInjectionTests.audit(cluster, ids: ids + more)
        print("reshard scenario: \(slot - start + 1) slots moved in \(reshard) during the run; \(audit)")
        audit.expectNothingLostOrWrong()
        #expect(audit.completed + audit.deadLettered == ids.count + more.count)
    }

    /// What a primary's death mid-run did, as the audit and the clocks saw it.
    struct KillReport: CustomStringConvertible {
        var failover: Duration
        var recovery: Duration
        var audit: FaultInjectionTests.Audit

        var description: String {
            "replica promoted after \(failover.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))), "
                + "a new job ran \(recovery.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))) after the kill; \(audit)"
        }
    }

    /// Submits 1,500 jobs while two workers run them, SIGKILLs the queue's primary once 200
    /// are done, waits for its replica to be promoted, brings the killed server back (as the
    /// new primary's replica: with none, a write that waits for one cannot be confirmed), and
    /// audits every acknowledged job.
    static func killPrimaryMidRun(
        _ cluster: ProcessCluster, durability: String, victim: RedisServer, promoted: @escaping @Sendable () async -> Bool,
        restart: () async throws -> Void
    ) async throws -> KillReport {
        for n in 1...2 { try cluster.startWorker("w\(n)") }
        let submitting = Task { try await Self.submitThroughFaults(cluster.store, count: 1500) }
        #expect(await eventually { (try? await cluster.store.queueCounts().first?.completed ?? 0) ?? 0 >= 200 })

        victim.process.send(SIGKILL)
        let killedAt = ContinuousClock.now
        #expect(await eventually(timeout: .seconds(30)) { await promoted() }, "the replica was not promoted")
        let failover = ContinuousClock.now - killedAt
        try await restart()
        // Recovered: a job submitted after the kill has run.
        var probe: JobID?
        let recovered = await eventually(timeout: .seconds(60)) {
            if probe == nil { probe = try? await cluster.store.submit([JobRequest(type: "noop")]).first?.id }
            guard let probe else { return false }
            return (try? await cluster.store.job(probe, queue: "default"))?.state == .completed
        }
        let recovery = ContinuousClock.now - killedAt
        #expect(recovered, "no job ran within 60 s of the kill: \(cluster.worker("w1")?.output().suffix(1500) ?? "")")
        let ids = try await submitting.value + (probe.map { [$0] } ?? [])

        let audit = try await FaultInjectionTests.audit(cluster, ids: ids, lossExpected: durability == "primary")
        let problems = audit.problems.prefix(10)
        #expect(problems.isEmpty, "\(problems)")
        if durability == "replica" {
            audit.expectNothingLostOrWrong()
            #expect(audit.completed + audit.deadLettered == ids.count)
        }
        return KillReport(failover: failover, recovery: recovery, audit: audit)
    }

    /// With `--durability replica` every transition is confirmed by a replica before it
    /// counts, so a primary's death loses none; with `primary`, the jobs lost are counted.
    @Test(arguments: ["replica", "primary"])
    func aClusterPrimarySIGKILLedMidRunIsReplacedByItsReplica(_ durability: String) async throws {
        let servers = try await RedisClusterServers.start()
        defer { Task { await servers.stop() } }
        let cluster = try await ProcessCluster(on: servers, durability: durability)
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        let victim = try await servers.primary(forKey: "drover:{default}:queued")
        let report = try await Self.killPrimaryMidRun(
            cluster, durability: durability, victim: victim,
            promoted: { (try? await servers.primary(forKey: "drover:{default}:queued").port).map { $0 != victim.port } ?? false },
            restart: { try await servers.restart(victim) })
        print("cluster primary SIGKILL, durability \(durability): \(report)")
    }

    @Test(arguments: ["replica", "primary"])
    func aSentinelPrimarySIGKILLedMidRunIsReplacedByItsReplica(_ durability: String) async throws {
        let servers = try await SentinelServers.start()
        defer { Task { await servers.stop() } }
        let cluster = try await ProcessCluster(redis: (servers.url, servers.replica), durability: durability)
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        let report = try await Self.killPrimaryMidRun(
            cluster, durability: durability, victim: servers.primary,
            promoted: { await servers.failoverEnded(to: servers.replica.port) },
            // Back with its data (AOF) and a primary by its own account, until the Sentinels
            // make it the new primary's replica.
            restart: { try await servers.restartPrimary() })
        print("Sentinel primary SIGKILL, durability \(durability): \(report)")
    }

    /// Functions are loaded where a call finds them missing: a node that joins needs nothing done.
    @Test func aNodeThatJoinsGetsTheFunctionsWithItsFirstCall() async throws {
        let servers = try await RedisClusterServers.start(primaries: 3, replicasEach: 0)
        defer { Task { await servers.stop() } }
        let store = RedisJobStore(configuration: .init(redis: try RedisConfiguration(servers.url)), logger: quietLogger)
        defer { Task { await store.close() } }
        let before = try await store.submit((0..<10).map { _ in JobRequest(type: "t") }).map(\.id)

        let fresh = try await servers.addNode()
        let freshClient = try servers.client(fresh)
        defer { Task { await freshClient.close() } }
        #expect(try await freshClient.send("FUNCTION", "LIST").array?.isEmpty == true)
        // The queue's slot moves to it, with its ten jobs.
        let slot = ClusterSlot.of("drover:{default}:queued".utf8)
        let owner = try #require(try await servers.primaries().first { $0.ranges.contains { $0.contains(slot) } })
        let start = owner.ranges.first { $0.contains(slot) }!.lowerBound
        try await servers.redisCLI(cluster: [
            "reshard", "127.0.0.1:\(owner.node.port)", "--cluster-from", try await servers.id(of: owner.node), "--cluster-to",
            try await servers.id(of: fresh), "--cluster-slots", String(slot - start + 1), "--cluster-yes",
        ])
        #expect(try await servers.primary(forKey: "drover:{default}:queued").port == fresh.port)

        let after = try await store.submit((0..<10).map { _ in JobRequest(type: "t") }).map(\.id)
        var completed: [JobID] = []
        while let job = try await store.claim(queues: ["default"], worker: "w", max: 1, start: true).first {
            _ = try await store.complete([CompletionReport(job: job, result: "1")], worker: "w")
            completed.append(job.id)
        }
        #expect(completed == before + after)
        let libraries = try await freshClient.send("FUNCTION", "LIST").array ?? []
        #expect(libraries.count == 1, "the library was not loaded on the new node")
    }

    @Test func queuesSpreadOverTheNodesAndEachKeepsItsOrder() async throws {
        let servers = try await RedisClusterServers.start()
        defer { Task { await servers.stop() } }
        let store = RedisJobStore(configuration: .init(redis: try RedisConfiguration(servers.url)), logger: quietLogger)
        defer { Task { await store.close() } }
        let queues = (0..<12).map { "q\($0)" }
        var submitted: [String: [JobID]] = [:]
        for round in 0..<20 {
            // One pipeline per round with a job for every queue: split per node, reassembled.
            let ids = try await store.submit(queues.map { JobRequest(queue: $0, type: "t", payload: "\(round)") })
            for (queue, job) in zip(queues, ids) { submitted[queue, default: []].append(job.id) }
        }
        var owners: Set<Int> = []
        for queue in queues { owners.insert(try await servers.primary(forKey: "drover:{\(queue)}:queued").port) }
        #expect(owners.count == 3, "12 queues on \(owners.count) nodes")
        for (node, _) in try await servers.primaries() {
            let client = try servers.client(node)
            #expect(try await client.send("DBSIZE").int ?? 0 > 0, "a primary holds no key")
            await client.close()
        }
        // Claimed one at a time, each queue gives its jobs back in the order they came.
        for queue in queues {
            var order: [JobID] = []
            while let job = try await store.claim(queues: [queue], worker: "w", max: 1, start: true).first {
                order.append(job.id)
                _ = try await store.complete([CompletionReport(job: job, result: "1")], worker: "w")
            }
            #expect(order == submitted[queue], "\(queue)")
        }
        #expect(try await store.queues().sorted() == queues.sorted())
        #expect(try await store.queueCounts().map(\.completed).reduce(0, +) == 240)
    }
}
