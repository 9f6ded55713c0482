import Drover
import DroverRedis
import DroverTestSupport
import Foundation
import Synchronization

/// A cluster of processes: Redis with `appendfsync always` (or a Redis Cluster), a master
/// that reaps after 1 s of silence, and worker processes without maintenance of their own.
final class ProcessCluster: Sendable {
    /// The Redis server, or for a Redis Cluster its first node (where the logs go).
    let server: RedisServer
    /// What every process is given as `--redis`.
    let url: String
    /// `--durability` for every process and for `store`.
    let durability: String?
    let httpPort: Int
    let tcpPort: Int
    let store: RedisJobStore
    let redis: RedisClient
    private let ownsServer: Bool
    private let masterProcess: Mutex<ChildProcess?> = Mutex(nil)
    private let workers = Mutex<[String: ChildProcess]>([:])

    /// - Parameters:
    ///   - given: A Redis the test started (a cluster, Sentinels) and its URL, with the server
    ///     whose directory takes the logs; by default one of its own.
    init(redisArguments: [String] = [], redis given: (url: String, logsIn: RedisServer)? = nil, durability: String? = nil) async throws {
        if let given {
            (server, url, ownsServer) = (given.logsIn, given.url, false)
        } else {
            server = try await RedisServer.start(arguments: ["--appendonly", "yes", "--appendfsync", "always"] + redisArguments)
            (url, ownsServer) = (server.url, true)
        }
        self.durability = durability
        var configuration = try RedisConfiguration(url)
        if durability == "replica" { configuration.durability = .replicas(1, timeout: .seconds(1)) }
        store = RedisJobStore(configuration: .init(redis: configuration), logger: quietLogger)
        redis = RedisClient(configuration: try RedisConfiguration(url), logger: quietLogger)
        // A port found free can be taken by another test's process before the master binds it;
        // the master then exits, and it is started again on other ports.
        for _ in 1...5 {
            let ports = (http: try LocalRedis.freePort(), tcp: try LocalRedis.freePort())
            let process = try Self.launchMaster(
                url: url, durability: durability, logs: server.directory, httpPort: ports.http, tcpPort: ports.tcp)
            if await ChildMaster.doorsAnswer(process, httpPort: ports.http, tcpPort: ports.tcp) {
                (httpPort, tcpPort) = ports
                masterProcess.withLock { $0 = process }
                return
            }
            process.send(SIGKILL)
        }
        let log = (try? String(contentsOfFile: server.directory + "/master.log", encoding: .utf8)) ?? ""
        throw ChildProcessError.notReady("the master did not start: \(log.suffix(1000))")
    }

    var master: ChildProcess { masterProcess.withLock { $0! } }

    /// Starts the master again, on the same ports (remote workers reconnect to them).
    func startMaster() throws {
        let process = try Self.launchMaster(url: url, durability: durability, logs: server.directory, httpPort: httpPort, tcpPort: tcpPort)
        masterProcess.withLock { $0 = process }
    }

    private static func launchMaster(url: String, durability: String?, logs: String, httpPort: Int, tcpPort: Int) throws -> ChildProcess {
        try ChildProcess(
            executable: try droverExecutable(),
            arguments: [
                "master", "--redis", url, "--http", "127.0.0.1:\(httpPort)", "--tcp", "127.0.0.1:\(tcpPort)",
                "--heartbeat-timeout", "1",
                "--log-level", "warning",
            ] + (durability.map { ["--durability", $0] } ?? []),
            logPath: logs + "/master.log")
    }

    convenience init(on redisCluster: RedisClusterServers, durability: String? = nil) async throws {
        try await self.init(redis: (redisCluster.url, redisCluster.nodes[0]), durability: durability)
    }

    /// A worker that reaches only the master.
    func startRemoteWorker(_ id: String, via url: String) throws {
        let process = try ChildProcess(
            executable: try droverExecutable(),
            arguments: [
                "worker", "--master", url, "--id", id, "--concurrency", "8", "--heartbeat-interval", "0.2", "--log-level", "warning",
            ],
            environment: ["SWIFT_BACKTRACE": "enable=no"], logPath: server.directory + "/\(id).log")
        workers.withLock { $0[id] = process }
    }

    func startWorker(_ id: String, _ extraArguments: [String] = []) throws {
        let process = try ChildProcess(
            executable: try droverExecutable(),
            arguments: [
                "worker", "--redis", url, "--id", id, "--concurrency", "8", "--heartbeat-interval", "0.2", "--no-maintenance",
                "--log-level", "warning",
            ] + durabilityArguments + extraArguments,
            // A crashing handler should die at once, not wait on Swift's backtracer.
            environment: ["SWIFT_BACKTRACE": "enable=no"], logPath: server.directory + "/\(id).log")
        workers.withLock { $0[id] = process }
    }

    private var durabilityArguments: [String] { durability.map { ["--durability", $0] } ?? [] }

    func worker(_ id: String) -> ChildProcess? { workers.withLock { $0[id] } }

    /// Keeps `process` with the cluster's workers, so it is stopped with them.
    func adopt(_ id: String, _ process: ChildProcess) { workers.withLock { $0[id] = process } }

    /// Kills the master and the workers at once. Called synchronously when a test ends:
    /// a kill left to a task could come after the test process has exited, and the
    /// processes would outlive the run.
    func killProcesses() {
        for process in workers.withLock({ Array($0.values) }) { process.send(SIGKILL) }
        master.send(SIGKILL)
    }

    func stop() async {
        killProcesses()
        await store.close()
        await redis.close()
        if ownsServer { await server.stop() }
    }
}
