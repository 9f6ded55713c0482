import Logging
import NIOCore
import NIOPosix

// Finding the server to connect to when the URL names several: a cluster's seeds, or the
// Sentinels that know where the primary is.
extension RedisConnection {
    /// A connection to the first of `nodes` that accepts one: a cluster's pub/sub reaches
    /// every node's messages from any node.
    static func firstAnswering(_ nodes: [RedisURL.HostAndPort], with bootstrap: (String) -> ClientBootstrap) async throws -> any Channel {
        var failures: [String] = []
        for node in nodes {
            do {
                return try await bootstrap(node.host).channelOption(.tcpOption(.tcp_nodelay), value: 1).connect(
                    host: node.host, port: node.port
                )
                .get()
            } catch {
                failures.append("\(node): \(error)")
            }
        }
        throw RedisError.connectionFailed("no cluster node answered: \(failures.joined(separator: "; "))")
    }

    /// Where the Sentinels say the primary `name` is. Every Sentinel is asked (`SENTINEL
    /// MASTER`), all at once, and the answer of the newest configuration epoch wins: right
    /// after a failover a Sentinel may still name the old primary, and if that server is back
    /// (empty, and a primary by its own account until the Sentinels demote it) the `ROLE`
    /// check of the handshake would not catch it.
    static func primaryAddress(
        named name: String, asking nodes: [RedisURL.HostAndPort], configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup
    ) async throws(RedisError) -> RedisURL.HostAndPort {
        let quiet = {
            var logger = Logger(label: "drover.redis.sentinel")
            logger.logLevel = .critical
            return logger
        }()
        let answers = await withTaskGroup(of: Result<(RedisURL.HostAndPort, epoch: Int), RedisError>.self) { group in
            for node in nodes {
                group.addTask {
                    let sentinel = RedisConnection(
                        configuration: RedisConfiguration(
                            url: RedisURL(endpoint: .tcp(host: node.host, port: node.port)), connectTimeout: configuration.connectTimeout,
                            commandTimeout: configuration.connectTimeout),
                        eventLoopGroup: eventLoopGroup, logger: quiet)
                    defer { Task { await sentinel.close() } }
                    do {
                        let reply = try await sentinel.send(RedisCommand("SENTINEL", "MASTER", name))
                        let flat = reply.array?.compactMap(\.string) ?? []
                        var fields: [String: String] = [:]
                        for i in stride(from: 0, to: flat.count - 1, by: 2) { fields[flat[i]] = flat[i + 1] }
                        guard let host = fields["ip"], let port = fields["port"].flatMap({ Int($0) }) else {
                            return .failure(.connectionFailed("\(node) knows no primary named '\(name)'"))
                        }
                        return .success((RedisURL.HostAndPort(host: host, port: port), fields["config-epoch"].flatMap { Int($0) } ?? 0))
                    } catch {
                        return .failure(.connectionFailed("\(node): \(error)"))
                    }
                }
            }
            var answers: [Result<(RedisURL.HostAndPort, epoch: Int), RedisError>] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        var best: (address: RedisURL.HostAndPort, epoch: Int)?
        var failures: [String] = []
        for answer in answers {
            switch answer {
            case .success(let (address, epoch)): if epoch > best?.epoch ?? -1 { best = (address, epoch) }
            case .failure(let error): failures.append("\(error)")
            }
        }
        guard let best else {
            throw .connectionFailed("no Sentinel gave the primary '\(name)': \(failures.joined(separator: "; "))")
        }
        return best.address
    }
}
