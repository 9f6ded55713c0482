import Drover
import DroverRedis
import DroverTestSupport
import Foundation
import Synchronization

/// A cluster of processes: Redis with `appendfsync always`, a master that reaps after 1 s of
/// silence, and worker processes without maintenance of their own.
final class ProcessCluster: Sendable {
    let server: RedisServer
    let httpPort: Int
    let tcpPort: Int
    let store: RedisJobStore
    let redis: RedisClient
    private let masterProcess: Mutex<ChildProcess?> = Mutex(nil)
    private let workers = Mutex<[String: ChildProcess]>([:])

    init(redisArguments: [String] = []) async throws {
        server = try await RedisServer.start(arguments: ["--appendonly", "yes", "--appendfsync", "always"] + redisArguments)
        httpPort = try LocalRedis.freePort()
        tcpPort = try LocalRedis.freePort()
        store = RedisJobStore(configuration: .init(redis: try RedisConfiguration(server.url)), logger: quietLogger)
        redis = try server.client()
        try startMaster()
    }

    var master: ChildProcess { masterProcess.withLock { $0! } }

    /// Starts the master (again), on the same ports.
    func startMaster() throws {
        let process = try ChildProcess(
            executable: try droverExecutable(),
            arguments: [
                "master", "--redis", server.url, "--http", "127.0.0.1:\(httpPort)", "--tcp", "127.0.0.1:\(tcpPort)",
                "--heartbeat-timeout", "1",
                "--log-level", "warning",
            ],
            logPath: server.directory + "/master.log")
        masterProcess.withLock { $0 = process }
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
                "worker", "--redis", server.url, "--id", id, "--concurrency", "8", "--heartbeat-interval", "0.2", "--no-maintenance",
                "--log-level", "warning",
            ] + extraArguments,
            // A crashing handler should die at once, not wait on Swift's backtracer.
            environment: ["SWIFT_BACKTRACE": "enable=no"], logPath: server.directory + "/\(id).log")
        workers.withLock { $0[id] = process }
    }

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
        await server.stop()
    }
}
