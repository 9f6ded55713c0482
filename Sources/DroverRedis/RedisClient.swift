import Logging
import NIOCore
import NIOPosix

/// A Redis client that reconnects by itself, safe to share between any number of tasks.
///
/// Every command is written as soon as it is sent and replies are matched in order, so
/// concurrent callers pipeline for free. Nothing here blocks a thread: sockets belong to
/// SwiftNIO event loops and callers only await futures.
///
/// What it talks to follows the URL. One server (`redis://`, `rediss://`, `unix://`) or the
/// primary that Sentinels name (`redis+sentinel://`): one connection. A Redis Cluster
/// (`redis+cluster://`): one connection per primary, each command sent to the owner of its
/// key's slot (see ``RedisCommand``), a pipeline split per node and its replies put back in
/// order, `MOVED` and `ASK` followed. A client that subscribes holds one connection in all
/// cases: a cluster delivers every message on every node.
///
/// When a connection drops, commands in flight fail with ``RedisError/connectionClosed``
/// (Redis may or may not have run them) and the next command reconnects, waiting out a
/// capped exponential backoff after repeated failures.
///
/// A blocking command (`BLMOVE`, `BLPOP`) holds up every reply behind it, so give blocking
/// commands a client of their own.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let route: Route

    private enum Route {
        case single(RedisConnection)
        case cluster(ClusterRouter)
    }

    /// - Parameters:
    ///   - onPush: Receives pub/sub messages; only for a client used to subscribe.
    ///   - subscriptions: Channels to `SUBSCRIBE` to on every (re)connect.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "drover.redis"),
        subscriptions: [String] = [],
        onPush: (@Sendable (RESPValue) -> Void)? = nil
    ) {
        self.configuration = configuration
        if case .cluster(let seeds) = configuration.url.endpoint, subscriptions.isEmpty {
            route = .cluster(ClusterRouter(configuration: configuration, seeds: seeds, eventLoopGroup: eventLoopGroup, logger: logger))
        } else {
            route = .single(
                RedisConnection(
                    configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger, subscriptions: subscriptions,
                    onPush: onPush))
        }
    }

    /// Sends one command and returns its reply; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    public func send(_ command: RedisCommand, timeout: Duration? = nil) async throws(RedisError) -> RESPValue {
        switch route {
        case .single(let connection): return try await connection.send(command, timeout: timeout)
        case .cluster(let router): return try await router.pipeline([command], timeout: timeout)[0].throwingServerError()
        }
    }

    /// Sends `name` with `arguments`; a shorthand for ``send(_:timeout:)``.
    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgument...) async throws(RedisError) -> RESPValue {
        try await send(RedisCommand(name, arguments))
    }

    /// Writes all `commands` at once, flushes once and waits for all replies together.
    ///
    /// Error replies come back as `.error` values at their position: Redis runs every command
    /// of a pipeline whatever happened to the ones before it. A lost connection throws.
    public func pipeline(_ commands: [RedisCommand], timeout: Duration? = nil) async throws(RedisError) -> [RESPValue] {
        switch route {
        case .single(let connection): return try await connection.pipeline(commands, timeout: timeout)
        case .cluster(let router): return try await router.pipeline(commands, timeout: timeout)
        }
    }

    /// Calls `function` with `FCALL`, loading its library first if this server lacks it (a new
    /// or restarted server, `FUNCTION FLUSH`, a node that joined the cluster).
    @discardableResult
    public func run(_ function: RedisFunction, keys: [any RedisArgument], arguments: [any RedisArgument]) async throws(RedisError)
        -> RESPValue
    {
        try await run([RedisFunction.Call(function, keys: keys, arguments: arguments)])[0].throwingServerError()
    }

    /// Runs many function calls in one pipeline; error replies stay values.
    ///
    /// With ``RedisConfiguration/Durability/replicas(_:timeout:)`` a `WAIT` follows the calls
    /// on each node they ran on, and a call is done only once the replicas confirm it.
    public func run(_ calls: [RedisFunction.Call]) async throws(RedisError) -> [RESPValue] {
        let commands = calls.map { $0.function.command(keys: $0.keys, arguments: $0.arguments) }
        let waits = replicaWaits(after: commands)
        var replies = try await pipeline(waits.isEmpty ? commands : commands + waits)
        // The usual case, every function there and no replica to wait for, allocates nothing more.
        guard !waits.isEmpty || replies.contains(where: Self.isMissingFunction) else { return replies }
        let confirmations = replies.suffix(waits.count)
        replies.removeLast(waits.count)
        let missing = replies.indices.filter { Self.isMissingFunction(replies[$0]) }
        // A call whose function was missing did not run; its retry has a WAIT of its own.
        if missing.count < replies.count { try checkReplicated(confirmations) }
        var loaded: Set<String> = []
        for i in missing {
            // The call did not run: loading the library and calling again is safe.
            let call = calls[i]
            let library = call.function.library
            if loaded.insert("\(library.name) \(commands[i].slot ?? -1)").inserted {
                try await send(RedisCommand("FUNCTION", "LOAD", "REPLACE", library.source).pinned(like: commands[i]))
            }
            let retried = try await pipeline([commands[i]] + replicaWaits(after: [commands[i]]))
            try checkReplicated(retried.dropFirst())
            replies[i] = retried[0]
        }
        return replies
    }

    private static func isMissingFunction(_ reply: RESPValue) -> Bool {
        if case .error(let message) = reply { return message.hasPrefix("ERR Function not found") }
        return false
    }

    /// One `WAIT` per node the commands go to (per slot in a cluster), when the configuration
    /// asks for replicas.
    private func replicaWaits(after commands: [RedisCommand]) -> [RedisCommand] {
        guard case .replicas(let count, let timeout) = configuration.durability, !commands.isEmpty else { return [] }
        let wait = RedisCommand("WAIT", count, max(1, Int(TimeAmount(timeout).nanoseconds / 1_000_000)))
        guard case .cluster = route else { return [wait] }
        var seen: Set<Int> = []
        return commands.filter { seen.insert($0.slot ?? -1).inserted }.map { wait.pinned(like: $0) }
    }

    /// The `WAIT` replies: each must count the replicas the configuration asks for.
    private func checkReplicated(_ replies: some Collection<RESPValue>) throws(RedisError) {
        guard case .replicas(let wanted, _) = configuration.durability else { return }
        for reply in replies {
            let confirmed = try reply.throwingServerError().int ?? 0
            if confirmed < wanted { throw .notReplicated(wanted: wanted, confirmed: confirmed) }
        }
    }

    /// Closes every connection; later commands throw ``RedisError/clientClosed``.
    public func close() async {
        switch route {
        case .single(let connection): await connection.close()
        case .cluster(let router): await router.close()
        }
    }

    /// Connects now instead of on the first command; useful to fail fast at start-up.
    public func connect() async throws(RedisError) {
        switch route {
        case .single(let connection): try await connection.connect()
        case .cluster(let router): try await router.connect()
        }
    }

    /// Whether a connection is open now (a client used to subscribe is subscribed then).
    public var isConnected: Bool {
        switch route {
        case .single(let connection): connection.isConnected
        case .cluster(let router): router.isConnected
        }
    }

    /// How many `MOVED` and `ASK` answers of a Redis Cluster this client followed (a slot map
    /// out of date after a resharding or a failover); 0 for one server.
    public var clusterRedirectsFollowed: Int {
        guard case .cluster(let router) = route else { return 0 }
        return router.redirectsFollowed
    }

    /// A future that completes when the current connection closes (`nil` when not connected,
    /// and for a cluster's many connections).
    public var currentConnectionClosed: EventLoopFuture<Void>? {
        guard case .single(let connection) = route else { return nil }
        return connection.currentConnectionClosed
    }
}
