import Logging
import NIOCore
import Synchronization

/// A Redis Cluster's slot map and one connection per primary: where ``RedisClient`` sends the
/// commands of a `redis+cluster://` URL.
///
/// The map comes from `CLUSTER SLOTS`, asked of a node already known (the seeds at first).
/// Only the first map is waited for. A `MOVED` answer updates its slot at once and has the
/// whole map asked for again in the background, as do an unreachable node and a node that
/// says the cluster is down; one task asks at a time.
///
/// A pipeline is split per node, the parts sent at once, and the replies put back in the
/// order of the commands. A command answered `MOVED` goes again to the node named; one
/// answered `ASK` (its slot is being moved and its key has gone ahead) goes to the node named
/// behind an `ASKING`; `TRYAGAIN` and `CLUSTERDOWN` are retried after a pause. A command
/// pinned to another's slot (a `WAIT` after a write) follows that command wherever it went.
/// The connections of nodes that stop being primaries are closed a while later, so commands
/// on their way finish.
final class ClusterRouter: Sendable {
    typealias Node = RedisURL.HostAndPort

    let configuration: RedisConfiguration
    private let seeds: [Node]
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())
    private let redirects = Atomic(0)

    /// How many times one command is sent again after redirects and pauses.
    static let maxResends = 8

    private struct State {
        /// Per slot, one plus the index in `nodes` of the primary that owns it; 0 for a slot
        /// no primary serves.
        var owners = [UInt16](repeating: 0, count: ClusterSlot.count)
        var nodes: [Node] = []
        var connections: [Node: RedisConnection] = [:]
        var refreshing: Task<Void, Never>?
        /// Round robin over the primaries for commands that name no key.
        var nextAny = 0
        var closed = false
    }

    init(configuration: RedisConfiguration, seeds: [Node], eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.seeds = seeds
        self.group = eventLoopGroup
        self.logger = logger
    }

    // MARK: Commands

    func pipeline(_ commands: [RedisCommand], timeout: Duration?) async throws(RedisError) -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        if state.withLock({ $0.nodes.isEmpty }) { try await refreshNow() }
        let slots = commands.map(\.slot)
        var replies = [RESPValue](repeating: .null, count: commands.count)
        var pending = Array(commands.indices)
        /// The node an `ASK` named, per command.
        var asking: [Int: Node] = [:]
        for resend in 0...Self.maxResends {
            var parts: [Node: [Int]] = [:]
            /// Commands whose slot no primary serves in the map: asked again after a pause.
            var unserved: [Int] = []
            for i in pending {
                guard let node = asking[i] ?? owner(of: slots[i]) else {
                    replies[i] = .error("CLUSTERDOWN Hash slot not served")
                    unserved.append(i)
                    continue
                }
                parts[node, default: []].append(i)
            }
            let answered = parts.isEmpty ? [] : try await send(parts, commands: commands, asking: asking, timeout: timeout)
            pending = unserved
            var pause = !unserved.isEmpty
            /// Per slot redirected in this round, where its commands went (nil: to its owner).
            var redirected: [Int: Node?] = [:]
            for (i, node, reply) in answered.sorted(by: { $0.0 < $1.0 }) {
                replies[i] = reply
                if case .error(let message) = reply, let redirect = Redirect(message, from: node) {
                    if redirect != .pause { redirects.add(1, ordering: .relaxed) }
                    switch redirect {
                    case .moved(let slot, let target):
                        learn(slot: slot, owner: target)
                        asking[i] = nil
                        redirected[slot] = .some(nil)
                    case .ask(let slot, let target):
                        asking[i] = target
                        redirected[slot] = target
                    case .pause:
                        asking[i] = nil
                        pause = true
                    }
                    pending.append(i)
                } else if commands[i].isPinned, let slot = slots[i], let target = redirected[slot] {
                    asking[i] = target
                    pending.append(i)
                }
            }
            if pending.isEmpty || resend == Self.maxResends { break }
            if pause {
                refreshSoon()
                try? await Task.sleep(for: .milliseconds(50 << min(resend, 4)))
            }
        }
        return replies
    }

    /// Sends each node its part of a pipeline, all at once; the replies with their command's
    /// index and the node that gave them.
    private func send(
        _ parts: [Node: [Int]], commands: [RedisCommand], asking: [Int: Node], timeout: Duration?
    ) async throws(RedisError) -> [(Int, Node, RESPValue)] {
        if parts.count == 1, let (node, indices) = parts.first {
            return try await send(indices, to: node, commands: commands, asking: asking, timeout: timeout).get()
        }
        let results = await withTaskGroup(of: Result<[(Int, Node, RESPValue)], RedisError>.self) { group in
            for (node, indices) in parts {
                group.addTask { await self.send(indices, to: node, commands: commands, asking: asking, timeout: timeout) }
            }
            var results: [Result<[(Int, Node, RESPValue)], RedisError>] = []
            for await result in group { results.append(result) }
            return results
        }
        var answered: [(Int, Node, RESPValue)] = []
        for result in results { answered += try result.get() }
        return answered
    }

    private func send(
        _ indices: [Int], to node: Node, commands: [RedisCommand], asking: [Int: Node], timeout: Duration?
    ) async -> Result<[(Int, Node, RESPValue)], RedisError> {
        var batch: [RedisCommand] = []
        var positions: [Int] = []
        for i in indices {
            if asking[i] != nil { batch.append(RedisCommand("ASKING")) }
            positions.append(batch.count)
            batch.append(commands[i])
        }
        do {
            guard let connection = connection(to: node) else { return .failure(.clientClosed) }
            let replies = try await connection.pipeline(batch, timeout: timeout)
            return .success(zip(indices, positions).map { ($0, node, replies[$1]) })
        } catch {
            // The node may be gone: the map is asked for again, and a connection retired by
            // that meanwhile is a lost connection to the caller, not a closed client.
            refreshSoon()
            let closedHere = state.withLock { $0.closed }
            return .failure(error == .clientClosed && !closedHere ? .connectionClosed : error)
        }
    }

    // MARK: The slot map

    /// The primary that owns `slot`, or any primary for a command that names no key.
    private func owner(of slot: Int?) -> Node? {
        state.withLock { state in
            guard !state.nodes.isEmpty else { return nil }
            guard let slot else {
                state.nextAny = (state.nextAny + 1) % state.nodes.count
                return state.nodes[state.nextAny]
            }
            let owner = Int(state.owners[slot])
            return owner == 0 ? nil : state.nodes[owner - 1]
        }
    }

    private func connection(to node: Node) -> RedisConnection? {
        state.withLock { state in
            if state.closed { return nil }
            if let connection = state.connections[node] { return connection }
            var configuration = self.configuration
            configuration.url.endpoint = .tcp(host: node.host, port: node.port)
            let connection = RedisConnection(configuration: configuration, eventLoopGroup: group, logger: logger)
            state.connections[node] = connection
            return connection
        }
    }

    /// A `MOVED` answer: the slot's owner is known at once; the rest of the map may have
    /// changed too (a failover, a resharding), so it is asked for.
    private func learn(slot: Int, owner: Node) {
        state.withLock { state in
            if let index = state.nodes.firstIndex(of: owner) {
                state.owners[slot] = UInt16(index + 1)
            } else {
                state.nodes.append(owner)
                state.owners[slot] = UInt16(state.nodes.count)
            }
        }
        refreshSoon()
    }

    /// Asks for the map in the background unless that is under way.
    private func refreshSoon() {
        state.withLock { state in
            guard state.refreshing == nil, !state.closed else { return }
            state.refreshing = Task { await self.refresh() }
        }
    }

    /// Asks for the map and waits for it: before the first command.
    private func refreshNow() async throws(RedisError) {
        let task = state.withLock { state -> Task<Void, Never>? in
            guard !state.closed else { return nil }
            if let refreshing = state.refreshing { return refreshing }
            let task = Task { await self.refresh() }
            state.refreshing = task
            return task
        }
        guard let task else { throw .clientClosed }
        await task.value
        if state.withLock({ $0.nodes.isEmpty }) {
            throw .connectionFailed("\(configuration.url): no seed node gave the cluster's slots (CLUSTER SLOTS)")
        }
    }

    private func refresh() async {
        defer { state.withLock { $0.refreshing = nil } }
        let known = state.withLock { $0.nodes }
        var failures: [String] = []
        for node in known + seeds.filter({ !known.contains($0) }) {
            guard let connection = connection(to: node) else { return }
            do {
                let reply = try await connection.send(RedisCommand("CLUSTER", "SLOTS"), timeout: configuration.connectTimeout)
                let map = try Self.slotMap(reply, askedOf: node)
                install(map)
                return
            } catch {
                failures.append("\(node): \(error)")
            }
        }
        logger.warning("cannot read the cluster's slot map", metadata: ["tried": "\(failures.joined(separator: "; "))"])
    }

    /// Takes a new map; connections to nodes that are no longer primaries (or seeds) close a
    /// while later, once what was sent on them had time to finish.
    private func install(_ map: (nodes: [Node], owners: [UInt16])) {
        let (changed, retired) = state.withLock { state -> (Bool, [RedisConnection]) in
            let changed = state.nodes != map.nodes || state.owners != map.owners
            state.nodes = map.nodes
            state.owners = map.owners
            let kept = Set(map.nodes)
            let gone = state.connections.filter { !kept.contains($0.key) && !seeds.contains($0.key) }
            for node in gone.keys { state.connections[node] = nil }
            return (changed, Array(gone.values))
        }
        if changed {
            logger.debug("cluster slot map", metadata: ["primaries": "\(map.nodes.map(\.description).joined(separator: ","))"])
        }
        guard !retired.isEmpty else { return }
        let grace = configuration.commandTimeout
        Task {
            try? await Task.sleep(for: grace)
            for connection in retired { await connection.close() }
        }
    }

    /// `CLUSTER SLOTS`: `[[start, end, [host, port, id, …], replicas…], …]`. An empty host is
    /// the node asked.
    static func slotMap(_ reply: RESPValue, askedOf asked: Node) throws(RedisError) -> (nodes: [Node], owners: [UInt16]) {
        var nodes: [Node] = []
        var owners = [UInt16](repeating: 0, count: ClusterSlot.count)
        for range in try reply.throwingServerError().array ?? [] {
            guard let parts = range.array, parts.count >= 3, let start = parts[0].int, let end = parts[1].int,
                let primary = parts[2].array, primary.count >= 2, var host = primary[0].string, let port = primary[1].int,
                (0..<ClusterSlot.count).contains(start), (start..<ClusterSlot.count).contains(end)
            else { throw .unexpectedReply("CLUSTER SLOTS returned \(range)") }
            if host.isEmpty || host == "?" { host = asked.host }
            let node = Node(host: host, port: port)
            let index: Int
            if let known = nodes.firstIndex(of: node) {
                index = known
            } else {
                nodes.append(node)
                index = nodes.count - 1
            }
            for slot in start...end { owners[slot] = UInt16(index + 1) }
        }
        return (nodes, owners)
    }

    /// How many `MOVED` and `ASK` answers were followed.
    var redirectsFollowed: Int { redirects.load(ordering: .relaxed) }

    // MARK: Life cycle

    func connect() async throws(RedisError) {
        try await refreshNow()
    }

    var isConnected: Bool {
        state.withLock { state in state.connections.values.contains { $0.isConnected } }
    }

    func close() async {
        let (connections, refreshing) = state.withLock { state in
            defer {
                state.closed = true
                state.connections = [:]
            }
            return (Array(state.connections.values), state.refreshing)
        }
        refreshing?.cancel()
        for connection in connections { await connection.close() }
    }
}

/// What a cluster node's error reply asks of the client.
enum Redirect: Equatable {
    /// The slot lives on `node` now: `MOVED <slot> <host>:<port>`.
    case moved(slot: Int, node: RedisURL.HostAndPort)
    /// This one command, this once, goes to `node`: `ASK <slot> <host>:<port>`.
    case ask(slot: Int, node: RedisURL.HostAndPort)
    /// Try again shortly: `TRYAGAIN` (a multi-key command during a slot's move) or
    /// `CLUSTERDOWN` (a failover under way).
    case pause

    init?(_ message: String, from node: RedisURL.HostAndPort) {
        if message.hasPrefix("TRYAGAIN") || message.hasPrefix("CLUSTERDOWN") {
            self = .pause
            return
        }
        let words = message.split(separator: " ")
        guard words.count == 3, words[0] == "MOVED" || words[0] == "ASK", let slot = Int(words[1]),
            (0..<ClusterSlot.count).contains(slot), let colon = words[2].lastIndex(of: ":"),
            let port = Int(words[2][words[2].index(after: colon)...])
        else { return nil }
        var host = String(words[2][..<colon])
        if host.isEmpty { host = node.host }
        let target = RedisURL.HostAndPort(host: host, port: port)
        self = words[0] == "MOVED" ? .moved(slot: slot, node: target) : .ask(slot: slot, node: target)
    }
}
