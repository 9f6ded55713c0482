import DroverRemote
import DroverTestSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A `drover master` process of a test's own, on ports of its own.
struct ChildMaster {
    let process: ChildProcess
    let httpPort: Int
    let tcpPort: Int
    /// Where its output goes.
    let logPath: String
    var http: String { "http://127.0.0.1:\(httpPort)" }
    var tcp: String { "tcp://127.0.0.1:\(tcpPort)" }

    /// Starts a master on two free ports and waits until both of its doors answer. A port
    /// found free can be taken by another test's process before the master binds it; the master
    /// then exits, and it is started again on other ports.
    static func start(_ server: RedisServer, name: String, extraArguments: [String] = [], token: String? = nil) async throws -> ChildMaster
    {
        var failures: [String] = []
        for attempt in 1...5 {
            let httpPort = try RedisServer.freePort()
            let tcpPort = try RedisServer.freePort()
            let logPath = server.directory + "/\(name)-\(attempt).log"
            let process = try ChildProcess(
                executable: try droverExecutable(),
                arguments: [
                    "master", "--redis", server.url, "--http", "127.0.0.1:\(httpPort)", "--tcp", "127.0.0.1:\(tcpPort)",
                    "--heartbeat-timeout", "1", "--log-level", "info",
                ] + extraArguments,
                logPath: logPath)
            if await doorsAnswer(process, httpPort: httpPort, tcpPort: tcpPort, token: token) {
                return ChildMaster(process: process, httpPort: httpPort, tcpPort: tcpPort, logPath: logPath)
            }
            process.send(SIGKILL)
            failures.append(String(process.output().suffix(500)))
        }
        throw ChildProcessError.notReady("\(name) did not start: \(failures.joined(separator: "\n---\n"))")
    }

    /// Whether both doors of the master `process` answer before it exits.
    /// With an auth file, `token` is one of its tokens.
    static func doorsAnswer(_ process: ChildProcess, httpPort: Int, tcpPort: Int, token: String? = nil) async -> Bool {
        guard let overHTTP = try? RemoteJobStore(masterURL: "http://127.0.0.1:\(httpPort)", token: token),
            let overTCP = try? RemoteJobStore(masterURL: "tcp://127.0.0.1:\(tcpPort)", token: token)
        else { return false }
        let up = await eventually {
            guard process.isRunning else { return true }
            guard (try? await overHTTP.queueCounts()) != nil else { return false }
            return (try? await overTCP.queueCounts()) != nil
        }
        await overHTTP.close()
        await overTCP.close()
        return up && process.isRunning
    }
}
