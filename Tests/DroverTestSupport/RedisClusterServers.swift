import DroverProcess
import DroverRedis
import Foundation
import Synchronization

/// A real Redis Cluster for a test: `primaries` redis-servers in cluster mode, each with
/// `replicasEach` replicas, on free ports, joined by `redis-cli --cluster create`. Nodes
/// decide a peer is down after 1 s, so a failover takes a few seconds.
public final class RedisClusterServers: Sendable {
    public var nodes: [RedisServer] { running.withLock { $0 } }
    public let password: String
    private let running: Mutex<[RedisServer]>
    /// For a cluster that speaks TLS: the certificates, and each node's TLS port by its plain one.
    public let tls: (certificates: TestCertificates, ports: [Int: Int])?

    /// `redis+cluster://` naming every node as a seed (`rediss+cluster://` to their TLS ports,
    /// with the worker-a client certificate, for a TLS cluster).
    public var url: String {
        guard let tls else { return "redis+cluster://:\(password)@" + nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") }
        let dir = tls.certificates.directory
        return "rediss+cluster://:\(password)@" + nodes.map { "localhost:\(tls.ports[$0.port]!)" }.joined(separator: ",")
            + "?ca=\(tls.certificates.ca)&cert=\(dir)/worker-a.pem&key=\(dir)/worker-a.key"
    }

    private init(nodes: [RedisServer], password: String, tls: (certificates: TestCertificates, ports: [Int: Int])? = nil) {
        self.running = Mutex(nodes)
        self.password = password
        self.tls = tls
    }

    /// Three primaries that speak TLS to clients and to each other (`tls-cluster yes`), each
    /// with a plain port too, for the test's own checks.
    public static func startTLS() async throws -> RedisClusterServers {
        let certificates = try await TestCertificates.shared()
        let dir = certificates.directory
        let password = RedisServer.randomPassword()
        var nodes: [RedisServer] = []
        var ports: [Int: Int] = [:]
        do {
            for _ in 0..<3 {
                let tlsPort = try RedisServer.freePort()
                let node = try await startNode(
                    password: password,
                    extra: [
                        "--tls-port", String(tlsPort), "--tls-cluster", "yes", "--tls-cert-file", dir + "/server.pem",
                        "--tls-key-file", dir + "/server.key", "--tls-ca-cert-file", certificates.ca,
                        // The certificate a node shows when it is the client (cluster bus).
                        "--tls-client-cert-file", dir + "/worker-a.pem", "--tls-client-key-file", dir + "/worker-a.key",
                    ])
                nodes.append(node)
                ports[node.port] = tlsPort
            }
            let cluster = RedisClusterServers(nodes: nodes, password: password, tls: (certificates, ports))
            try await cluster.redisCLI(cluster: ["create"] + nodes.map { "127.0.0.1:\(ports[$0.port]!)" } + ["--cluster-yes"])
            guard try await cluster.waitUntilSettled() else { throw ChildProcessError.notReady("the TLS cluster did not settle in 30 s") }
            return cluster
        } catch {
            for node in nodes { await node.stop() }
            throw error
        }
    }

    /// Starts a stopped node again on its port and directory: it reads its `nodes.conf` and
    /// rejoins (a primary replaced meanwhile comes back as a replica of its replacement).
    @discardableResult
    public func restart(_ node: RedisServer) async throws -> RedisServer {
        let fresh = try await RedisServer.restart(node)
        running.withLock { nodes in
            if let i = nodes.firstIndex(where: { $0.port == node.port }) { nodes[i] = fresh }
        }
        return fresh
    }

    public static func start(primaries: Int = 3, replicasEach: Int = 1) async throws -> RedisClusterServers {
        let password = RedisServer.randomPassword()
        var nodes: [RedisServer] = []
        do {
            for _ in 0..<(primaries * (1 + replicasEach)) { nodes.append(try await startNode(password: password)) }
            let cluster = RedisClusterServers(nodes: nodes, password: password)
            let (status, output) = try await ChildProcess.run(
                executable: try RedisServer.findExecutable("redis-cli"),
                arguments: ["--no-auth-warning", "-a", password, "--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" }
                    + ["--cluster-replicas", String(replicasEach), "--cluster-yes"], input: [])
            guard status == 0 else {
                throw ChildProcessError.notReady(
                    "redis-cli --cluster create failed: \(String(decoding: output, as: UTF8.self).suffix(800))")
            }
            guard try await cluster.waitUntilSettled() else { throw ChildProcessError.notReady("the cluster did not settle in 30 s") }
            return cluster
        } catch {
            for node in nodes { await node.stop() }
            throw error
        }
    }

    /// One cluster for every test of this process that needs no cluster of its own (the
    /// contract suite: each test's keys under a prefix of its own); started by the first to
    /// ask, killed when the process exits.
    public static func shared() async throws -> RedisClusterServers {
        try await sharedCluster.value
    }

    private static let sharedCluster = Task { try await RedisClusterServers.start() }

    /// A redis-server in cluster mode, in no cluster yet.
    private static func startNode(password: String, extra: [String] = []) async throws -> RedisServer {
        // The cluster bus port is set, not derived (port + 10000 may be past 65535).
        try await RedisServer.start(
            arguments: [
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
                "--cluster-port", String(try RedisServer.freePort()), "--masterauth", password,
                // A replica syncs at once, not after the default 5 s wait for others.
                "--repl-diskless-sync-delay", "0",
            ] + extra, password: password)
    }

    /// Adds an empty primary to the cluster (`redis-cli --cluster add-node`): it serves no
    /// slot until one is moved to it.
    public func addNode() async throws -> RedisServer {
        let node = try await Self.startNode(password: password)
        running.withLock { $0.append(node) }
        try await redisCLI(cluster: ["add-node", "127.0.0.1:\(node.port)", "127.0.0.1:\(nodes[0].port)"])
        guard try await waitUntilSettled() else { throw ChildProcessError.notReady("the new node did not join in 30 s") }
        return node
    }

    public func stop() async {
        for node in nodes { await node.stop() }
    }

    /// A client straight to one node (no redirects followed).
    public func client(_ node: RedisServer) throws -> RedisClient {
        RedisClient(configuration: try RedisConfiguration("redis://:\(password)@127.0.0.1:\(node.port)"), logger: quietLogger)
    }

    /// Runs `redis-cli` against the cluster with `arguments` after `--cluster`; throws unless it succeeds.
    @discardableResult
    public func redisCLI(cluster arguments: [String]) async throws -> String {
        let tlsArguments = tls.map { tls in
            let dir = tls.certificates.directory
            return ["--tls", "--cacert", tls.certificates.ca, "--cert", dir + "/worker-a.pem", "--key", dir + "/worker-a.key"]
        }
        let (status, output) = try await ChildProcess.run(
            executable: try RedisServer.findExecutable("redis-cli"),
            arguments: ["--no-auth-warning", "-a", password] + (tlsArguments ?? []) + ["--cluster"] + arguments, input: [])
        let text = String(decoding: output, as: UTF8.self)
        guard status == 0 else {
            throw ChildProcessError.notReady("redis-cli --cluster \(arguments.first ?? "") failed: \(text.suffix(800))")
        }
        return text
    }

    /// Every running node says the cluster is ok and every slot is served, and every replica
    /// has its primary's data (a replica that never synced cannot take over).
    public func waitUntilSettled(timeout: Duration = .seconds(30)) async throws -> Bool {
        await eventually(timeout: timeout) {
            for node in self.nodes where node.process.isRunning {
                guard let client = try? self.client(node) else { return false }
                defer { Task { await client.close() } }
                guard let info = try? await client.send("CLUSTER", "INFO").string,
                    info.contains("cluster_state:ok"), info.contains("cluster_slots_ok:16384"),
                    let replication = try? await client.send("INFO", "replication").string,
                    replication.contains("role:master") || replication.contains("master_link_status:up")
                else { return false }
            }
            return true
        }
    }

    /// `CLUSTER SLOTS`, from the first node that answers.
    private func slots() async throws -> [RESPValue] {
        var failure: (any Error)?
        for node in nodes where node.process.isRunning {
            let client = try self.client(node)
            defer { Task { await client.close() } }
            do {
                return try await client.send("CLUSTER", "SLOTS").array ?? []
            } catch {
                failure = error
            }
        }
        throw failure ?? ChildProcessError.notReady("no cluster node is running")
    }

    /// The node serving `key`'s slot as its primary, as the first node that answers sees it.
    public func primary(forKey key: String) async throws -> RedisServer {
        let slot = ClusterSlot.of(key.utf8)
        for range in try await slots() {
            guard let parts = range.array, let start = parts[0].int, let end = parts[1].int, (start...end).contains(slot),
                let port = parts[2].array?[1].int, let node = nodes.first(where: { $0.port == port })
            else { continue }
            return node
        }
        throw ChildProcessError.notReady("no node serves slot \(slot)")
    }

    /// The primaries, and the slot ranges each serves.
    public func primaries() async throws -> [(node: RedisServer, ranges: [ClosedRange<Int>])] {
        var ranges: [Int: [ClosedRange<Int>]] = [:]
        for range in try await slots() {
            guard let parts = range.array, let start = parts[0].int, let end = parts[1].int, let port = parts[2].array?[1].int else {
                continue
            }
            ranges[port, default: []].append(start...end)
        }
        return nodes.compactMap { node in ranges[node.port].map { (node, $0) } }
    }

    /// A node's id in the cluster.
    public func id(of node: RedisServer) async throws -> String {
        let client = try self.client(node)
        defer { Task { await client.close() } }
        return try await client.send("CLUSTER", "MYID").string ?? ""
    }
}
