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
        store = RedisJobStore(configuration: .init(redis: try RedisConfiguration(server.url)), logger: quietLogger)
        redis = try server.client()
        // A port found free can be taken by another test's process before the master binds it;
        // the master then exits, and it is started again on other ports.
        for _ in 1...5 {
            let ports = (http: try LocalRedis.freePort(), tcp: try LocalRedis.freePort())
            let process = try Self.launchMaster(server, httpPort: ports.http, tcpPort: ports.tcp)
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
        let process = try Self.launchMaster(server, httpPort: httpPort, tcpPort: tcpPort)
        masterProcess.withLock { $0 = process }
    }

    private static func launchMaster(_ server: RedisServer, httpPort: Int, tcpPort: Int) throws -> ChildProcess {
        try ChildProcess(
            executable: try droverExecutable(),
            arguments: [
                "master", "--redis", server.url, "--http", "127.0.0.1:\(httpPort)", "--tcp", "127.0.0.1:\(tcpPort)",
                "--heartbeat-timeout", "1",
                "--log-level", "warning",
            ],
            logPath: server.directory + "/master.log")
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
