import DroverCore
import DroverRedis
import DroverRedisStore
import DroverTestSupport
import Testing

/// `--durability replica`: a job transition counts only once a replica has it (`WAIT` after
/// each function call), and one no replica confirms in time fails with its outcome unknown.
@Suite struct DurabilityTests {
    static func store(_ url: String, timeout: Duration) throws -> RedisJobStore {
        var redis = try RedisConfiguration(url)
        redis.durability = .replicas(1, timeout: timeout)
        return RedisJobStore(configuration: .init(redis: redis), logger: quietLogger)
    }

    @Test func aSubmitReturnsOnlyOnceTheReplicaHasTheJob() async throws {
        let password = RedisServer.randomPassword()
        let primary = try await RedisServer.start(password: password)
        defer { Task { await primary.stop() } }
        let replica = try await RedisServer.start(
            arguments: ["--replicaof", "127.0.0.1", String(primary.port), "--masterauth", password], password: password)
        defer { Task { await replica.stop() } }
        let replicaClient = try replica.client()
        defer { Task { await replicaClient.close() } }
        #expect(
            await eventually {
                (try? await replicaClient.send("INFO", "replication").string)?.contains("master_link_status:up") == true
            })
        let store = try Self.store(primary.url, timeout: .seconds(5))
        defer { Task { await store.close() } }
        for _ in 0..<20 {
            let id = try await store.submit([JobRequest(type: "t")])[0].id
            // Read from the replica the moment the submit returns: it is there already.
            #expect(try await replicaClient.send("HGET", "drover:{default}:job:\(id)", "state").string == "QUEUED")
            let job = try #require(try await store.claim(queues: ["default"], worker: "w", max: 1, start: true).first)
            #expect(try await store.complete([CompletionReport(job: job, result: "1")], worker: "w") == [.applied(.completed)])
            #expect(try await replicaClient.send("HGET", "drover:{default}:job:\(id)", "state").string == "COMPLETED")
        }
    }

    @Test func aWriteNoReplicaConfirmsFailsWithItsOutcomeUnknown() async throws {
        let primary = try await RedisServer.start()
        defer { Task { await primary.stop() } }
        let store = try Self.store(primary.url, timeout: .milliseconds(50))
        defer { Task { await store.close() } }
        do {
            _ = try await store.submit([JobRequest(type: "t", idempotencyKey: "k")])
            Issue.record("a submit no replica confirmed was acknowledged")
        } catch let error as RedisError {
            #expect(error == .notReplicated(wanted: 1, confirmed: 0))
            #expect(error.isConnectionProblem, "its outcome is unknown, as with a lost connection")
        }
        // The primary has it: a retry with the same idempotency key finds it instead of
        // writing it twice.
        let plain = RedisJobStore(configuration: .init(redis: try RedisConfiguration(primary.url)), logger: quietLogger)
        defer { Task { await plain.close() } }
        let again = try await plain.submit([JobRequest(type: "t", idempotencyKey: "k")])[0]
        #expect(!again.created)
        #expect(try await plain.queueCounts()[0].queued == 1)
    }
}
