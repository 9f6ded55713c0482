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

/// A primary, its replica and three Sentinels, all real servers on free ports: the store
/// reached through `redis+sentinel://` follows a failover.
@Suite struct SentinelTests {
    static let primaryName = "drover-primary"

    /// A Sentinel watching `primary`, quick to decide it is down (1 s) and to fail over.
    static func startSentinel(watching primary: RedisServer, password: String) async throws -> (ChildProcess, Int, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-sentinel-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for _ in 0..<5 {
            let port = try RedisServer.freePort()
            // Sentinel rewrites its configuration file, so each has its own.
            let config = """
                port \(port)
                bind 127.0.0.1
                dir \(directory)
                sentinel monitor \(primaryName) 127.0.0.1 \(primary.port) 2
                sentinel auth-pass \(primaryName) \(password)
                sentinel down-after-milliseconds \(primaryName) 1000
                sentinel failover-timeout \(primaryName) 4000
                sentinel parallel-syncs \(primaryName) 1
                """
            try config.write(toFile: directory + "/sentinel.conf", atomically: true, encoding: .utf8)
            let process = try ChildProcess(
                executable: try RedisServer.findExecutable("redis-server"), arguments: [directory + "/sentinel.conf", "--sentinel"],
                logPath: directory + "/sentinel.log")
            let client = RedisClient(configuration: try RedisConfiguration("redis://127.0.0.1:\(port)"), logger: quietLogger)
            defer { Task { await client.close() } }
            let answers = await eventually(timeout: .seconds(10)) {
                guard process.isRunning else { return false }
                return (try? await client.send("PING")) != nil
            }
            if answers { return (process, port, directory) }
            await process.stop()
        }
        throw ChildProcessError.notReady("redis-server --sentinel did not start")
    }

    /// Where the Sentinel at `port` says the primary is.
    static func primaryPort(askingSentinelAt port: Int) async throws -> Int? {
        let client = RedisClient(configuration: try RedisConfiguration("redis://127.0.0.1:\(port)"), logger: quietLogger)
        defer { Task { await client.close() } }
        let reply = try await client.send("SENTINEL", "GET-MASTER-ADDR-BY-NAME", primaryName)
        return reply.array?.last?.string.flatMap { Int($0) }
    }

    @Test func aStoreBehindSentinelsFollowsAFailoverAndLosesNoReplicatedJob() async throws {
        let password = RedisServer.randomPassword()
        let primary = try await RedisServer.start(password: password)
        defer { Task { await primary.stop() } }
        let replica = try await RedisServer.start(
            arguments: ["--replicaof", "127.0.0.1", String(primary.port), "--masterauth", password], password: password)
        defer { Task { await replica.stop() } }
        var sentinels: [(process: ChildProcess, port: Int, directory: String)] = []
        defer {
            for sentinel in sentinels {
                sentinel.process.send(SIGKILL)
                try? FileManager.default.removeItem(atPath: sentinel.directory)
            }
        }
        for _ in 0..<3 { sentinels.append(try await Self.startSentinel(watching: primary, password: password)) }
        // A failover needs the Sentinels to know the replica and each other (they tell each
        // other through the primary every 2 s).
        let ready = try await eventually(timeout: .seconds(30)) {
            let client = RedisClient(configuration: try RedisConfiguration("redis://127.0.0.1:\(sentinels[0].port)"), logger: quietLogger)
            defer { Task { await client.close() } }
            let replicas = (try? await client.send("SENTINEL", "REPLICAS", Self.primaryName))?.array?.count ?? 0
            let others = (try? await client.send("SENTINEL", "SENTINELS", Self.primaryName))?.array?.count ?? 0
            return replicas == 1 && others == 2
        }
        #expect(ready, "the Sentinels did not learn of the replica and of each other")

        let nodes = sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ",")
        let url = "redis+sentinel://:\(password)@\(nodes)/\(Self.primaryName)"
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

        primary.process.send(SIGKILL)
        let promoted = try await eventually(timeout: .seconds(30)) {
            (try? await Self.primaryPort(askingSentinelAt: sentinels[1].port)) == replica.port
        }
        #expect(promoted, "the Sentinels did not promote the replica")

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
