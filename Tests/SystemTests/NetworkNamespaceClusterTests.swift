import Drover
import DroverCore
import DroverRemote
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The docker-compose topology without Docker: Redis, a master and two workers, each a process
/// in a network namespace of its own, joined by veth pairs to a bridge; jobs come in from
/// outside (this process, in the root namespace) through the master's REST door.
///
/// Addresses are link-local (169.254.77.0/24) and live only on the namespaces and the bridge
/// this test creates and deletes.
@Suite(.enabled(if: getuid() == 0, "needs root for ip netns"))
struct NetworkNamespaceClusterTests {
    final class Network: Sendable {
        let tag: String
        let bridge: String
        let hosts: [String]

        init(hosts: [String]) throws {
            tag = String(UInt32.random(in: 0..<0xFFFF), radix: 16)
            bridge = "drvbr\(tag)"
            self.hosts = hosts
            try ip("link", "add", bridge, "type", "bridge")
            try ip("addr", "add", "169.254.77.1/24", "dev", bridge)
            try ip("link", "set", bridge, "up")
            for (i, host) in hosts.enumerated() {
                let ns = namespace(host)
                let outside = "drv\(tag)o\(i)"
                let inside = "drv\(tag)i\(i)"
                try ip("netns", "add", ns)
                try ip("link", "add", outside, "type", "veth", "peer", "name", inside)
                try ip("link", "set", inside, "netns", ns)
                try ip("link", "set", outside, "master", bridge)
                try ip("link", "set", outside, "up")
                try ip("netns", "exec", ns, "ip", "addr", "add", "\(address(host))/24", "dev", inside)
                try ip("netns", "exec", ns, "ip", "link", "set", inside, "up")
                try ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
            }
        }

        func namespace(_ host: String) -> String { "drv\(tag)-\(host)" }

        func address(_ host: String) -> String { "169.254.77.\(10 + (hosts.firstIndex(of: host) ?? 0))" }

        /// Runs `arguments` inside `host`'s namespace.
        func spawn(_ host: String, _ arguments: [String], log: String) throws -> ChildProcess {
            try ChildProcess(executable: try Self.ipPath(), arguments: ["netns", "exec", namespace(host)] + arguments, logPath: log)
        }

        /// Takes `host`'s network cable out (`up: false`) or plugs it back in.
        func setLink(_ host: String, up: Bool) throws {
            let i = try #require(hosts.firstIndex(of: host))
            try ip("netns", "exec", namespace(host), "ip", "link", "set", "drv\(tag)i\(i)", up ? "up" : "down")
        }

        func tearDown() {
            for host in hosts { try? ip("netns", "del", namespace(host)) }
            try? ip("link", "del", bridge)
        }

        static func ipPath() throws -> String { try LocalRedis.findExecutable("ip") }

        private func ip(_ arguments: String...) throws {
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("drover-ip-\(tag).log").path
            defer { try? FileManager.default.removeItem(atPath: log) }
            let process = try ChildProcess(executable: try Self.ipPath(), arguments: arguments, logPath: log)
            var status: Int32 = -1
            for _ in 0..<500 {
                if let exit = process.reapIfExited() {
                    status = exit
                    break
                }
                usleep(10_000)
            }
            guard status == 0 else {
                throw ChildProcessError.spawnFailed("ip \(arguments.joined(separator: " "))", process.output())
            }
        }
    }

    @Test func jobsSubmittedFromOutsideAllCompleteAcrossNamespaces() async throws {
        let network = try Network(hosts: ["redis", "master", "worker1", "worker2"])
        defer { network.tearDown() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-netns-\(network.tag)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let drover = try droverExecutable()
        let redisAddress = network.address("redis")
        let redisURL = "redis://:netns-secret@\(redisAddress):6379"
        let masterAddress = network.address("master")

        let redis = try network.spawn(
            "redis",
            [
                try LocalRedis.findExecutable("redis-server"), "--bind", redisAddress, "--port", "6379", "--requirepass", "netns-secret",
                "--save", "",
                "--appendonly", "yes", "--dir", directory,
            ],
            log: directory + "/redis.log")
        defer { redis.send(SIGKILL) }
        let master = try network.spawn(
            "master",
            [
                drover, "master", "--redis", redisURL, "--http", "\(masterAddress):8080", "--tcp", "\(masterAddress):7070",
                "--heartbeat-timeout", "2",
            ],
            log: directory + "/master.log")
        defer { master.send(SIGKILL) }
        // One worker straight to Redis, one that reaches only the master.
        let direct = try network.spawn(
            "worker1", [drover, "worker", "--redis", redisURL, "--id", "ns-direct", "--concurrency", "4"],
            log: directory + "/worker1.log")
        defer { direct.send(SIGKILL) }
        let remote = try network.spawn(
            "worker2", [drover, "worker", "--master", "tcp://\(masterAddress):7070", "--id", "ns-remote", "--concurrency", "4"],
            log: directory + "/worker2.log")
        defer { remote.send(SIGKILL) }

        let outside = try RemoteJobStore(masterURL: "http://\(masterAddress):8080")
        defer { Task { await outside.close() } }
        let up = await eventually(timeout: .seconds(30)) { (try? await outside.workers().count) == 2 }
        #expect(
            up, "cluster did not come up: \(master.output().suffix(1000)) \(direct.output().suffix(500)) \(remote.output().suffix(500))")
        let client = DroverClient(store: outside)
        let ids = try await client.submit(batch: (0..<60).map { JobRequest(type: "echo", payload: "\($0)") }).map(\.id)
        var workers: Set<String> = []
        for (i, id) in ids.enumerated() {
            let job = try await client.wait(for: id, timeout: .seconds(60))
            #expect(job.state == .completed && job.result == "\(i)")
            if let worker = job.worker { workers.insert(worker) }
        }
        #expect(workers.isSubset(of: ["ns-direct", "ns-remote"]) && !workers.isEmpty)
        let counts = try #require(try await client.queueCounts().first)
        #expect(counts.completed == 60 && counts.queued == 0 && counts.running == 0)
    }
}
