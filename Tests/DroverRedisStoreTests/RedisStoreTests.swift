import DroverCore
import DroverRedis
import DroverRedisStore
import DroverTestSupport
import Foundation
import Testing

/// What only the Redis store has: keys a person can read with redis-cli.
@Suite struct RedisStoreTests {
    /// Before Redis Cluster support the keys of no queue had no hash tag: the registries an
    /// older version wrote are moved by the first store of this one to read them.
    @Test func registriesOfAnOlderVersionAreMovedOnFirstUse() async throws {
        let f = try await StoreFixture.make(.redis)
        defer { Task { await f.tearDown() } }
        let store = try #require(f.redisStore)
        let redis = try #require(try f.server?.client())
        defer { Task { await redis.close() } }
        _ = try await store.submit([JobRequest(queue: "mail", type: "send")])
        _ = try await store.putSchedule(Schedule(name: "nightly", cron: "@daily", job: JobRequest(queue: "mail", type: "report")))
        // What an older version leaves: the same registries under their old names.
        try await redis.send("RENAME", "drover:{@}:queues", "drover:queues")
        try await redis.send("RENAME", "drover:{@}:cron", "drover:cron")
        try await redis.send("ZADD", "drover:workers", 1, "old-worker")

        let upgraded = RedisJobStore(configuration: .init(redis: try RedisConfiguration(f.server!.url)), logger: quietLogger)
        defer { Task { await upgraded.close() } }
        // Pausing, the first thing this store does, finds the queue the older version registered.
        try await upgraded.pause(queue: "mail")
        #expect(try await upgraded.queues() == ["mail"])
        #expect(try await upgraded.schedules().map(\.name) == ["nightly"])
        for old in ["drover:queues", "drover:cron", "drover:workers"] {
            #expect(try await redis.send("EXISTS", old).int == 0, "\(old)")
        }
        #expect(try await redis.send("HGET", "drover:{@}:cron", "nightly").string == "mail")
    }

    @Test func keysAreTheDocumentedOnesAndReadable() async throws {
        let f = try await StoreFixture.make(.redis, retention: RetentionPolicy(completed: .seconds(3600)))
        defer { Task { await f.tearDown() } }
        let store = try #require(f.redisStore)
        let redis = try #require(try f.server?.client())
        defer { Task { await redis.close() } }

        let ids = try await store.submit([
            JobRequest(queue: "mail", type: "send", payload: #"{"to":"x"}"#, idempotencyKey: "k1"), JobRequest(queue: "mail", type: "send"),
            JobRequest(queue: "mail", type: "send", maxAttempts: 1),
        ]).map(\.id)
        try await store.heartbeat(
            WorkerInfo(id: "w1", host: "h", pid: 7, queues: ["mail"], concurrency: 2, inFlight: 1, startedAt: 1, version: "t"))
        let claimed = try await store.claim(queues: ["mail"], worker: "w1", max: 3, start: true)
        _ = try await store.complete([CompletionReport(job: claimed[0], result: "true")], worker: "w1")
        _ = try await store.fail([FailureReport(job: claimed[2], error: "bad")], worker: "w1")

        func type(_ key: String) async throws -> String? { try await redis.send("TYPE", key).string }
        #expect(try await type("drover:{@}:queues") == "set")
        #expect(try await type("drover:{@}:workers") == "zset")
        #expect(try await type("drover:{@}:worker:w1") == "hash")
        #expect(try await type("drover:{mail}:active:w1") == "list")
        #expect(try await type("drover:{mail}:completed") == "zset")
        #expect(try await type("drover:{mail}:dead") == "zset")
        #expect(try await type("drover:{mail}:stats") == "hash")
        #expect(try await type("drover:{mail}:job:\(ids[0])") == "hash")
        #expect(try await redis.send("GET", "drover:{mail}:idempotency:k1").string == ids[0].rawValue)
        #expect(try await redis.send("LRANGE", "drover:{mail}:active:w1", 0, -1).array?.compactMap(\.string) == [ids[1].rawValue])
        #expect(try await redis.send("HGET", "drover:{mail}:job:\(ids[0])", "state").string == "COMPLETED")
        #expect(try await redis.send("HGET", "drover:{mail}:job:\(ids[0])", "result").string == "true")
        #expect(try await redis.send("HGET", "drover:{mail}:job:\(ids[1])", "worker").string == "w1")
        #expect(try await redis.send("HGET", "drover:{mail}:stats", "RUNNING").int == 1)
        #expect(try await redis.send("HGET", "drover:{@}:worker:w1", "pid").string == "7")
        let history = try #require(try await redis.send("HGET", "drover:{mail}:job:\(ids[2])", "history").string)
        #expect(history.contains(#""state":"DEAD_LETTER""#))
        // Completed jobs expire on their own too, so memory stays bounded without a janitor.
        let ttl = try #require(try await redis.send("PTTL", "drover:{mail}:job:\(ids[0])").int)
        #expect(ttl > 3_500_000 && ttl <= 3_600_000)
        #expect(try await redis.send("PTTL", "drover:{mail}:job:\(ids[2])").int == -1)
        // The throughput history: one readable member a second.
        try await store.sampleThroughput()
        let samples = try #require(try await redis.send("ZRANGE", "drover:{mail}:throughput", 0, -1, "WITHSCORES").array)
        let member = try #require(samples.first?.string)
        #expect(member.hasSuffix(":1:1:1") && member.hasPrefix(samples[1].string ?? "-"), "\(member)")
    }

    @Test func aCursorWhoseJobMovedFarForwardIsStillFound() async throws {
        let f = try await StoreFixture.make(.redis)
        defer { Task { await f.tearDown() } }
        let store = try #require(f.redisStore)
        let ids = try await store.submit((0..<3000).map { _ in JobRequest(type: "t") }).map(\.id)
        var cursor: JobCursor?
        for _ in 0..<3 { cursor = try await store.jobs(queue: "default", state: .queued, after: cursor, limit: 800).next }
        #expect(cursor?.last == ids[2399])
        // 1,500 taken from the front: its job is now 900 places ahead, past one look around its old place.
        _ = try await store.claim(queues: ["default"], worker: "w", max: 1500, start: true)
        let page = try await store.jobs(queue: "default", state: .queued, after: cursor, limit: 5)
        #expect(page.jobs.map(\.id) == Array(ids[2400..<2405]))
        #expect(page.next == JobCursor(last: ids[2404], place: .line(905)))
    }

    @Test func aJobIsFoundWithoutItsQueue() async throws {
        let f = try await StoreFixture.make(.redis)
        defer { Task { await f.tearDown() } }
        _ = try await f.store.submit([JobRequest(queue: "a", type: "t"), JobRequest(queue: "b", type: "t")])
        let id = try await f.store.submit([JobRequest(queue: "c", type: "t")])[0].id
        #expect(try await f.store.job(id, queue: nil)?.queue == "c")
        #expect(try await f.store.job(id, queue: "a") == nil)
    }

    @Test func scriptsSurviveAScriptFlush() async throws {
        let f = try await StoreFixture.make(.redis)
        defer { Task { await f.tearDown() } }
        let redis = try #require(try f.server?.client())
        defer { Task { await redis.close() } }
        _ = try await f.store.submit([JobRequest(type: "t")])
        try await redis.send("SCRIPT", "FLUSH")
        _ = try await f.store.submit([JobRequest(type: "t")])
        #expect(try await f.store.queueCounts()[0].queued == 2)
    }

    @Test func anIdThatIsNotQueuedIsDroppedByClaim() async throws {
        let f = try await StoreFixture.make(.redis)
        defer { Task { await f.tearDown() } }
        let redis = try #require(try f.server?.client())
        defer { Task { await redis.close() } }
        let ids = try await f.store.submit([JobRequest(type: "t"), JobRequest(type: "t")]).map(\.id)
        // A stray id (its job deleted by hand) must not wedge the queue.
        try await redis.send("DEL", "drover:{default}:job:\(ids[0])")
        let claimed = try await f.store.claim(queues: ["default"], worker: "w", max: 2, start: true)
        #expect(claimed.map(\.id) == [ids[1]])
        #expect(try await redis.send("LRANGE", "drover:{default}:active:w", 0, -1).array?.compactMap(\.string) == [ids[1].rawValue])
    }

    @Test func theStoreKeepsWorkingAcrossARedisRestart() async throws {
        let server = try await RedisServer.start(arguments: ["--appendonly", "yes", "--appendfsync", "always"])
        defer { Task { await server.stop() } }
        let store = RedisJobStore(configuration: .init(redis: try RedisConfiguration(server.url)), logger: quietLogger)
        defer { Task { await store.close() } }
        let before = try await store.submit([JobRequest(type: "t")])[0].id
        let redis = try server.client()
        defer { Task { await redis.close() } }
        // SHUTDOWN with AOF keeps the data; a new server on the same port and dir reads it back.
        _ = try? await redis.send("SHUTDOWN")
        #expect(await server.process.waitForExit(timeout: .seconds(10)) != nil)
        let restarted = try await RedisServer.restart(server)
        defer { Task { await restarted.stop() } }
        var after: JobID?
        for _ in 0..<50 where after == nil {
            after = try? await store.submit([JobRequest(type: "t")])[0].id
        }
        #expect(after != nil)
        #expect(try await store.queueCounts()[0].queued == 2)
        #expect(try await store.job(before, queue: "default")?.state == .queued)
    }

    @Test func maintenanceInManyProcessesAtOnceActsOnceOnEachJob() async throws {
        let f = try await StoreFixture.make(.redis)
        defer { Task { await f.tearDown() } }
        let server = try #require(f.server)
        // Four independent stores, as four masters or workers would have.
        let stores = try (0..<4).map { _ in
            RedisJobStore(configuration: .init(redis: try RedisConfiguration(server.url)), logger: quietLogger)
        }
        defer { Task { for store in stores { await store.close() } } }
        let ids = try await f.store.submit((0..<60).map { _ in JobRequest(type: "t", maxAttempts: 5, backoff: .fixed(ms: 0)) }).map(\.id)
        try await f.store.heartbeat(
            WorkerInfo(id: "doomed", host: "h", pid: 1, queues: ["default"], concurrency: 60, inFlight: 60, startedAt: 0, version: "t"))
        #expect(try await f.store.claim(queues: ["default"], worker: "doomed", max: 60, start: true).count == 60)

        let reaped = try await withThrowingTaskGroup(of: ReapReport.self) { group in
            for store in stores { group.addTask { try await store.reapLostWorkers(heartbeatTimeout: .seconds(-60)) } }
            return try await group.reduce(into: [ReapReport]()) { $0.append($1) }
        }
        #expect(reaped.flatMap(\.failedJobs).count == 60)
        #expect(reaped.flatMap(\.lostWorkers) == ["doomed"])

        let promoted = try await withThrowingTaskGroup(of: Int.self) { group in
            for store in stores { group.addTask { try await store.promoteDueJobs().promoted } }
            return try await group.reduce(0, +)
        }
        #expect(promoted == 60)
        for id in ids {
            let job = try #require(try await f.store.job(id, queue: "default"))
            #expect(job.state == .queued)
            #expect(job.history.filter { $0.state == .failed }.count == 1)
            #expect(job.history.filter { $0.state == .queued }.count == 2)
        }
        let redis = try server.client()
        defer { Task { await redis.close() } }
        #expect(try await redis.send("HGET", "drover:{default}:stats", "reassigned").int == 60)
        #expect(try await redis.send("LLEN", "drover:{default}:queued").int == 60)
        #expect(try await redis.send("EXISTS", "drover:{default}:active:doomed").int == 0)
        #expect(try await redis.send("SMEMBERS", "drover:{default}:holders").array?.isEmpty == true)
    }

    @Test func reconcilePutsFetchedButUnclaimedIdsBackAtTheHead() async throws {
        let f = try await StoreFixture.make(.redis)
        defer { Task { await f.tearDown() } }
        let store = try #require(f.redisStore)
        let redis = try #require(try f.server?.client())
        defer { Task { await redis.close() } }
        let ids = try await store.submit([JobRequest(type: "t"), JobRequest(type: "t")]).map(\.id)
        _ = try await store.claim(queues: ["default"], worker: "w", max: 0, start: true)  // registers w as a holder
        // What a BLMOVE whose reply was lost leaves behind.
        try await redis.send("LMOVE", "drover:{default}:queued", "drover:{default}:active:w", "RIGHT", "LEFT")
        let report = try await store.reconcile(worker: "w", queues: ["default"], holding: [])
        #expect(report.requeued == [ids[0]])
        #expect(
            try await redis.send("LRANGE", "drover:{default}:queued", 0, -1).array?.compactMap(\.string) == [
                ids[1].rawValue, ids[0].rawValue,
            ])
        #expect(try await redis.send("EXISTS", "drover:{default}:active:w").int == 0)
        #expect(try await store.claim(queues: ["default"], worker: "x", max: 1, start: true).map(\.id) == [ids[0]])
    }

    @Test func aPausedQueuesLineIsReadableAndAnIdFetchedAsItPausedGoesBack() async throws {
        let f = try await StoreFixture.make(.redis)
        defer { Task { await f.tearDown() } }
        let store = try #require(f.redisStore)
        let redis = try #require(try f.server?.client())
        defer { Task { await redis.close() } }
        let id = try await store.submit([JobRequest(type: "t")])[0].id
        // A QUEUED job whose id is, for the moment, in no line: the fetch below blocks.
        #expect(try await redis.send("LPOP", "drover:{default}:queued").string == id.rawValue)
        let waiting = Task { try await store.waitAndClaim(queues: ["default"], worker: "w", max: 1, start: true, timeout: .seconds(30)) }
        // Once the worker's fetch is blocked in Redis, the id arrives in the same instant the
        // queue is paused (a state the pause function never leaves, so only the race makes
        // it): the fetch moves the id, and only the claim can refuse it.
        #expect(
            try await eventually {
                (try await redis.send("CLIENT", "LIST").string ?? "").contains("cmd=blmove")
            })
        let replies = try await redis.pipeline([
            RedisCommand("MULTI"), RedisCommand("LPUSH", "drover:{default}:queued", id.rawValue),
            RedisCommand("HSET", "drover:{default}:config", "paused", "1"), RedisCommand("EXEC"),
        ])
        #expect(replies.last?.array?.count == 2)
        // The claim that follows the fetch puts the id back in the paused line.
        #expect(
            try await eventually {
                try await redis.send("LRANGE", "drover:{default}:paused", 0, -1).array?.compactMap(\.string) == [id.rawValue]
            })
        // A stopping worker ends its wait, and reconciles, which ends the fetch it re-armed.
        try await store.interruptFetches(worker: "w")
        #expect(try await waiting.value.isEmpty)
        _ = try await store.reconcile(worker: "w", queues: ["default"], holding: [])
        #expect(try await redis.send("LRANGE", "drover:{default}:paused", 0, -1).array?.compactMap(\.string) == [id.rawValue])
        #expect(try await redis.send("EXISTS", "drover:{default}:active:w").int == 0)
        #expect(try await store.job(id, queue: "default")?.state == .queued)

        try await store.resume(queue: "default")
        #expect(try await redis.send("EXISTS", "drover:{default}:paused").int == 0)
        #expect(try await redis.send("HEXISTS", "drover:{default}:config", "paused").int == 0)
        try await store.pause(queue: "default")
        #expect(try await redis.send("TYPE", "drover:{default}:paused").string == "list")
        #expect(try await redis.send("EXISTS", "drover:{default}:queued").int == 0)
        let since = try #require(try await redis.send("HGET", "drover:{default}:config", "paused").string.flatMap { Int64($0) })
        #expect(since > 1_700_000_000_000)
        try await store.resume(queue: "default")
        #expect(try await store.claim(queues: ["default"], worker: "w", max: 1, start: true).map(\.id) == [id])
    }
}

/// Blocking-fetch connections belong to the workers that fetch; they go when those do.
@Suite struct FetchConnectionLifetimeTests {
    @Test func aWorkerThatStopsFetchingLeavesNoConnectionBehind() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let store = RedisJobStore(
            configuration: .init(redis: try RedisConfiguration(server.url), fetchConnectionIdleTimeout: .zero), logger: quietLogger)
        defer { Task { await store.close() } }
        // Twenty workers long-poll once each, then vanish without a word (as a remote worker
        // killed behind a master does): no reconcile, no deregister.
        for i in 0..<20 {
            let claimed = try await store.waitAndClaim(
                queues: ["default"], worker: "vanished-\(i)", max: 1, start: true, timeout: .milliseconds(200))
            #expect(claimed.isEmpty)
        }
        // Each fetch closes the connections that sat idle past the timeout: the last worker's
        // and those whose BLMOVE had not yet answered remain (how many depends on how late a
        // loaded Redis answers a timed-out BLMOVE), never one per vanished worker as before the
        // fix. The next check is the exact one.
        #expect(store.fetchConnectionCount < 20)
        // Once those fetches have answered, the next worker's fetch closes them as well.
        #expect(
            try await eventually {
                _ = try await store.waitAndClaim(queues: ["default"], worker: "probe", max: 1, start: true, timeout: .milliseconds(200))
                return store.fetchConnectionCount == 1
            })
        let redis = try server.client()
        defer { Task { await redis.close() } }
        #expect(
            try await eventually {
                let list = try await redis.send("CLIENT", "LIST").string ?? ""
                return list.split(separator: "\n").filter { $0.contains(".fetch.default") }.count == 1
            })
    }

    @Test func aLiveWorkersConnectionIsKeptAcrossFetches() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let store = RedisJobStore(configuration: .init(redis: try RedisConfiguration(server.url)), logger: quietLogger)
        defer { Task { await store.close() } }
        func fetch() async throws {
            // Long enough for every fetch to end by its BLMOVE's own timeout even on a loaded
            // machine, not by an error, after which a fetch's connections are replaced.
            _ = try await store.waitAndClaim(queues: ["a", "b"], worker: "steady", max: 1, start: true, timeout: .milliseconds(500))
        }
        // One connection per queue once its first fetch has started…
        #expect(
            try await eventually {
                try await fetch()
                return store.fetchConnectionCount == 2
            })
        // …and the same two for every fetch after it.
        for _ in 0..<3 { try await fetch() }
        #expect(store.fetchConnectionCount == 2)
        try await store.deregister(worker: "steady")
        #expect(store.fetchConnectionCount == 0)
    }
}
