import DroverProcess
import DroverRedis
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A primary, its replica and three Sentinels (`redis-server --sentinel`), all on free ports,
/// quick to decide the primary is down (1 s) and to fail over.
public final class SentinelServers: Sendable {
    public static let primaryName = "drover-primary"

    public let primary: RedisServer
    public let replica: RedisServer
    public let sentinels: [(process: ChildProcess, port: Int, directory: String)]
    public let password: String
    private let restarted = Mutex<[RedisServer]>([])

    /// `redis+sentinel://` naming the three Sentinels.
    public var url: String {
        "redis+sentinel://:\(password)@" + sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") + "/\(Self.primaryName)"
    }

    private init(primary: RedisServer, replica: RedisServer, sentinels: [(ChildProcess, Int, String)], password: String) {
        self.primary = primary
        self.replica = replica
        self.sentinels = sentinels.map { (process: $0.0, port: $0.1, directory: $0.2) }
        self.password = password
    }

    /// Starts them and waits until the Sentinels know the replica and each other (they tell
    /// each other through the primary every 2 s), and the replica has the primary's data.
    public static func start() async throws -> SentinelServers {
        let password = RedisServer.randomPassword()
        // The primary can become a replica too (when it comes back after a failover); both
        // persist, as Redis advises for a replicated primary that may restart: one back empty
        // while a failover is undone would wipe its replica.
        let primary = try await RedisServer.start(
            arguments: ["--repl-diskless-sync-delay", "0", "--masterauth", password, "--appendonly", "yes"], password: password)
        var replica: RedisServer?
        var sentinels: [(ChildProcess, Int, String)] = []
        do {
            replica = try await RedisServer.start(
                arguments: [
                    "--replicaof", "127.0.0.1", String(primary.port), "--masterauth", password, "--repl-diskless-sync-delay", "0",
                    "--appendonly", "yes",
                ],
                password: password)
            for _ in 0..<3 { sentinels.append(try await startSentinel(watching: primary, password: password)) }
            let servers = SentinelServers(primary: primary, replica: replica!, sentinels: sentinels, password: password)
            let ready = await eventually(timeout: .seconds(30)) {
                guard let client = try? servers.sentinelClient(0) else { return false }
                defer { Task { await client.close() } }
                let replicas = (try? await client.send("SENTINEL", "REPLICAS", primaryName))?.array?.count ?? 0
                let others = (try? await client.send("SENTINEL", "SENTINELS", primaryName))?.array?.count ?? 0
                let synced = try? await servers.replicaIsSynced()
                return replicas == 1 && others == 2 && synced == true
            }
            guard ready else { throw ChildProcessError.notReady("the Sentinels did not learn of the replica and of each other") }
            return servers
        } catch {
            for (process, _, directory) in sentinels {
                process.send(SIGKILL)
                try? FileManager.default.removeItem(atPath: directory)
            }
            await replica?.stop()
            await primary.stop()
            throw error
        }
    }

    /// Starts the (killed) first primary again on its port, with what it persisted.
    public func restartPrimary() async throws {
        let server = try await RedisServer.restart(primary)
        restarted.withLock { $0.append(server) }
    }

    public func stop() async {
        for server in restarted.withLock({ $0 }) { await server.process.stop() }
        for sentinel in sentinels {
            sentinel.process.send(SIGKILL)
            try? FileManager.default.removeItem(atPath: sentinel.directory)
        }
        await replica.stop()
        await primary.stop()
    }

    public func sentinelClient(_ index: Int) throws -> RedisClient {
        RedisClient(configuration: try RedisConfiguration("redis://127.0.0.1:\(sentinels[index].port)"), logger: quietLogger)
    }

    /// Where the Sentinel `index` says the primary is.
    public func primaryPort(askingSentinel index: Int) async throws -> Int? {
        let client = try sentinelClient(index)
        defer { Task { await client.close() } }
        let reply = try await client.send("SENTINEL", "GET-MASTER-ADDR-BY-NAME", Self.primaryName)
        return reply.array?.last?.string.flatMap { Int($0) }
    }

    /// Whether every Sentinel names the server at `port` as the primary and none is still
    /// failing over (a failover that times out reverts to the old primary).
    public func failoverEnded(to port: Int) async -> Bool {
        for index in sentinels.indices {
            guard let client = try? sentinelClient(index) else { return false }
            defer { Task { await client.close() } }
            let flat = (try? await client.send("SENTINEL", "MASTER", Self.primaryName))?.array?.compactMap(\.string) ?? []
            var fields: [String: String] = [:]
            for i in stride(from: 0, to: flat.count - 1, by: 2) { fields[flat[i]] = flat[i + 1] }
            guard fields["port"] == String(port), fields["flags"] == "master" else { return false }
        }
        return true
    }

    private func replicaIsSynced() async throws -> Bool {
        let client = try replica.client()
        defer { Task { await client.close() } }
        return (try await client.send("INFO", "replication").string ?? "").contains("master_link_status:up")
    }

    private static func startSentinel(watching primary: RedisServer, password: String) async throws -> (ChildProcess, Int, String) {
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
}
