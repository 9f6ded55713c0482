import DroverCore
import DroverProcess
import DroverRedis
import DroverRedisStore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A primary, its replica and three Sentinels, all real servers on free ports
/// (``SentinelServers``): the store reached through `redis+sentinel://` follows a failover.
@Suite struct SentinelTests {
    @Test func aStoreBehindSentinelsFollowsAFailoverAndLosesNoReplicatedJob() async throws {
        let servers = try await SentinelServers.start()
        defer { Task { await servers.stop() } }
        let (primary, replica, url) = (servers.primary, servers.replica, servers.url)
        let store = RedisJobStore(
            configuration: .init(
                redis: RedisConfiguration(
                    url: try RedisURL(url), connectTimeout: .seconds(1), commandTimeout: .seconds(5),
                    reconnectInitialDelay: .milliseconds(50), reconnectMaximumDelay: .milliseconds(500))),
            logger: quietLogger)
        defer { Task { await store.close() } }

        let before = try await store.submit((0..<40).map { _ in JobRequest(type: "t") }).map(\.id)
        let claimed = try await store.claim(queues: ["default"], worker: "w", max: 15, start: true)
        _ = try await store.complete(claimed.map { CompletionReport(job: $0, result: "1") }, worker: "w")
        // This test is about following the failover: everything acknowledged so far is on the
        // replica before the primary dies (without that, asynchronous replication may lose it).
        let primaryClient = try primary.client()
        let acknowledged = try await primaryClient.send("WAIT", 1, 5000).int
        await primaryClient.close()
        #expect(acknowledged == 1)

        // The store's subscription (cancel requests, finished jobs) is open before the kill.
        _ = try await store.cancelRequests(worker: "w", timeout: .milliseconds(1))

        primary.process.send(SIGKILL)
        let promoted = await eventually(timeout: .seconds(30)) {
            (try? await servers.primaryPort(askingSentinel: 1)) == replica.port
        }
        #expect(promoted, "the Sentinels did not promote the replica")

        // The subscription moves to the new primary by itself, before any command asks: the
        // Sentinels announced the switch (+switch-master).
        let newPrimary = try replica.client()
        defer { Task { await newPrimary.close() } }
        #expect(
            await eventually(timeout: .seconds(10)) {
                ((try? await newPrimary.send("CLIENT", "LIST").string) ?? "").contains("name=drover.events")
            }, "the subscription did not follow the switch")

        // The same store, through the failover: retried while it has no primary to reach.
        var after: [JobID] = []
        let submitted = await eventually(timeout: .seconds(30)) {
            guard let ids = try? await store.submit((0..<40).map { _ in JobRequest(type: "t") }) else { return false }
            after = ids.map(\.id)
            return true
        }
        #expect(submitted, "no submit went through after the failover")
        var completed = claimed.count
        while let jobs = try? await store.claim(queues: ["default"], worker: "w", max: 20, start: true), !jobs.isEmpty {
            let outcomes = try await store.complete(jobs.map { CompletionReport(job: $0, result: "1") }, worker: "w")
            completed += outcomes.filter { $0 == .applied(.completed) }.count
        }
        #expect(completed == 80)
        for id in before + after {
            #expect(try await store.job(id, queue: "default")?.state == .completed, "\(id)")
        }
        // The store now talks to the former replica.
        let info = try await store.queueCounts().first
        #expect(info?.completed == 80 && info?.queued == 0)
    }
}
