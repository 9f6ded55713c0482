import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// One connection to one Redis server that reconnects by itself, safe to share between any
/// number of tasks: what ``RedisClient`` is made of (one of these, or one per cluster node).
///
/// Every command is written to the connection as soon as it is sent and replies are matched
/// in order, so concurrent callers pipeline for free. Nothing here blocks a thread: the socket
/// belongs to a SwiftNIO event loop and callers only await futures.
///
/// When the connection drops, commands in flight fail with ``RedisError/connectionClosed``
/// (Redis may or may not have run them) and the next command reconnects, waiting out a
/// capped exponential backoff after repeated failures.
///
/// The server is found anew on every connection attempt: the URL's host, the primary the
/// Sentinels name (checked with `ROLE`), or for a cluster's any-node connection the first
/// seed node that answers.
final class RedisConnection: Sendable {
    let configuration: RedisConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let onPush: (@Sendable (RESPValue) -> Void)?
    private let subscriptions: [String]
    private let state: Mutex<State>
    /// For a primary found through Sentinels: their announcements of a new one.
    private let sentinelWatch: SentinelWatch?
    private let everConnected = Atomic(false)

    private enum State {
        case idle(failures: Int, lastFailure: ContinuousClock.Instant?)
        case connecting(Task<any Channel, any Error>)
        case connected(any Channel, failuresBefore: Int)
        case closed
    }

    /// - Parameters:
    ///   - onPush: Receives pub/sub messages; only for a connection used to subscribe.
    ///   - subscriptions: Channels to `SUBSCRIBE` to on every (re)connect.
    init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup,
        logger: Logger,
        subscriptions: [String] = [],
        onPush: (@Sendable (RESPValue) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
        self.onPush = onPush
        self.subscriptions = subscriptions
        self.state = Mutex(.idle(failures: 0, lastFailure: nil))
        if case .sentinel(let nodes, let primary) = configuration.url.endpoint {
            sentinelWatch = SentinelWatch.shared(
                nodes: nodes, primary: primary, configuration: configuration, eventLoopGroup: eventLoopGroup)
        } else {
            sentinelWatch = nil
        }
        sentinelWatch?.listen(self) { [weak self] in self?.primarySwitched() }
    }

    deinit {
        sentinelWatch?.stopListening(self)
        if case .connected(let channel, _) = state.withLock({ $0 }) {
            channel.close(promise: nil)
        }
    }

    /// The Sentinels named a new primary: a connection to the old one goes, and a new one is
    /// made at once (a subscription is back in place before the next message is published).
    private func primarySwitched() {
        let current = state.withLock { $0 }
        if case .closed = current { return }
        let channel: (any Channel)?
        if case .connected(let open, _) = current { channel = open } else { channel = nil }
        // A subscription that the old primary's death already dropped is made again too: no
        // command would bring it back.
        guard channel != nil || (!subscriptions.isEmpty && everConnected.load(ordering: .relaxed)) else { return }
        logger.notice("the Sentinels switched the primary; reconnecting", metadata: ["redis": "\(configuration.url)"])
        channel?.close(promise: nil)
        Task {
            _ = try? await channel?.closeFuture.get()
            try? await self.connect()
        }
    }

    // MARK: Commands

    /// Sends one command and returns its reply; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    func send(_ command: RedisCommand, timeout: Duration? = nil) async throws(RedisError) -> RESPValue {
        let channel = try await connectedChannel()
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        let request = RedisRequest(command: command, promise: promise, timeout: timeout ?? configuration.commandTimeout)
        // One hop onto the event loop for write and flush together.
        if channel.eventLoop.inEventLoop {
            Self.write(request, to: channel)
            channel.flush()
        } else {
            channel.eventLoop.execute {
                Self.write(request, to: channel)
                channel.flush()
            }
        }
        let reply: RESPValue
        do {
            reply = try await promise.futureResult.get()
        } catch {
            throw Self.redisError(error)
        }
        dropIfDemoted(channel, [reply])
        return try reply.throwingServerError()
    }

    /// Writes all `commands` at once, flushes once and waits for all replies together.
    ///
    /// Error replies come back as `.error` values at their position: Redis runs every command
    /// of a pipeline whatever happened to the ones before it. A lost connection throws.
    func pipeline(_ commands: [RedisCommand], timeout: Duration? = nil) async throws(RedisError) -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        let channel = try await connectedChannel()
        let timeout = timeout ?? configuration.commandTimeout
        let future = channel.eventLoop.flatSubmit { () -> EventLoopFuture<[RESPValue]> in
            let futures = commands.map { command -> EventLoopFuture<RESPValue> in
                let promise = channel.eventLoop.makePromise(of: RESPValue.self)
                Self.write(RedisRequest(command: command, promise: promise, timeout: timeout), to: channel)
                return promise.futureResult
            }
            channel.flush()
            return EventLoopFuture.whenAllSucceed(futures, on: channel.eventLoop)
        }
        do {
            let replies = try await future.get()
            dropIfDemoted(channel, replies)
            return replies
        } catch {
            throw Self.redisError(error)
        }
    }

    /// A server that refuses writes as a replica was the primary when this connection was made:
    /// with Sentinels to ask, the connection goes, and the next command finds the new primary.
    private func dropIfDemoted(_ channel: any Channel, _ replies: [RESPValue]) {
        guard case .sentinel = configuration.url.endpoint else { return }
        let demoted = replies.contains { reply in
            if case .error(let message) = reply { return message.hasPrefix("READONLY") }
            return false
        }
        if demoted {
            logger.warning("Redis answered READONLY: the primary changed; asking the Sentinels again")
            channel.close(promise: nil)
        }
    }

    /// Closes the connection; later commands throw ``RedisError/clientClosed``.
    func close() async {
        sentinelWatch?.stopListening(self)
        let previous = state.withLock { state -> State in
            defer { state = .closed }
            return state
        }
        switch previous {
        case .connected(let channel, _):
            try? await channel.close()
        case .connecting(let task):
            task.cancel()
            if let channel = try? await task.value { try? await channel.close() }
        case .idle, .closed:
            break
        }
    }

    /// Connects now instead of on the first command; useful to fail fast at start-up.
    func connect() async throws(RedisError) {
        _ = try await connectedChannel()
    }

    /// Whether a connection is open now (a client used to subscribe is subscribed then).
    var isConnected: Bool {
        if case .connected(let channel, _) = state.withLock({ $0 }) { return channel.isActive }
        return false
    }

    /// A future that completes when the current connection closes (`nil` when not connected).
    var currentConnectionClosed: EventLoopFuture<Void>? {
        if case .connected(let channel, _) = state.withLock({ $0 }) { return channel.closeFuture }
        return nil
    }

    // MARK: Connection management

    /// Writes on the channel's event loop. A write to a closed channel would never reach the
    /// handler that completes replies, so it fails the reply here instead.
    private static func write(_ request: RedisRequest, to channel: any Channel) {
        channel.eventLoop.preconditionInEventLoop()
        guard channel.isActive else {
            request.promise.fail(RedisError.connectionClosed)
            return
        }
        channel.write(request, promise: nil)
    }

    private enum ConnectAction {
        case ready(any Channel)
        case wait(Task<any Channel, any Error>)
    }

    private func connectedChannel() async throws(RedisError) -> any Channel {
        let action: ConnectAction = try state.withLock { (state) throws(RedisError) in
            switch state {
            case .connected(let channel, _):
                if channel.isActive { return .ready(channel) }
                return .wait(startConnecting(&state, failures: 0, lastFailure: nil))
            case .connecting(let task):
                return .wait(task)
            case .idle(let failures, let lastFailure):
                return .wait(startConnecting(&state, failures: failures, lastFailure: lastFailure))
            case .closed:
                throw .clientClosed
            }
        }
        switch action {
        case .ready(let channel):
            return channel
        case .wait(let task):
            do {
                return try await task.value
            } catch {
                throw Self.redisError(error)
            }
        }
    }

    private func startConnecting(_ state: inout State, failures: Int, lastFailure: ContinuousClock.Instant?) -> Task<any Channel, any Error>
    {
        let delay = configuration.reconnectDelay(afterFailures: failures)
        let task = Task<any Channel, any Error> {
            if let lastFailure, delay > .zero {
                try await Task.sleep(until: lastFailure + delay, clock: .continuous)
            }
            do {
                let channel = try await self.openChannel()
                let stillWanted = self.state.withLock { state -> Bool in
                    guard case .connecting = state else { return false }
                    state = .connected(channel, failuresBefore: failures)
                    return true
                }
                guard stillWanted else {
                    try? await channel.close()
                    throw RedisError.clientClosed
                }
                self.everConnected.store(true, ordering: .relaxed)
                if failures > 0 {
                    self.logger.info("reconnected to Redis", metadata: ["redis": "\(self.configuration.url)"])
                }
                channel.closeFuture.whenComplete { _ in
                    self.state.withLock { state in
                        if case .connected(let current, _) = state, current === channel {
                            state = .idle(failures: 0, lastFailure: nil)
                        }
                    }
                }
                return channel
            } catch {
                let redisError = Self.redisError(error)
                self.state.withLock { state in
                    if case .connecting = state {
                        state = .idle(failures: failures + 1, lastFailure: .now)
                    }
                }
                if failures == 0 {
                    self.logger.warning(
                        "cannot reach Redis, will keep retrying",
                        metadata: ["redis": "\(self.configuration.url)", "error": "\(redisError)"])
                }
                throw redisError
            }
        }
        state = .connecting(task)
        return task
    }

    private func openChannel() async throws -> any Channel {
        let onPush = self.onPush
        // Files are read on every connection attempt, so renewed certificates are picked up
        // by the next reconnect without a restart.
        let tls: NIOSSLContext?
        if let files = configuration.url.tls {
            do {
                tls = try NIOSSLContext(configuration: try files.clientConfiguration())
            } catch {
                throw RedisError.connectionFailed("\(configuration.url): TLS: \(error)")
            }
        } else {
            tls = nil
        }
        let connectTimeout = configuration.connectTimeout
        let group = self.group
        /// How to reach `host`: with TLS, its name is what the certificate must show.
        let bootstrap = { (host: String) -> ClientBootstrap in
            // SNI and name checks take a host name; an IP address is checked against the
            // certificate's IP entries by NIOSSL instead.
            let serverName = (try? SocketAddress(ipAddress: host, port: 0)) != nil ? nil : host
            return ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(connectTimeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(
                                NIOSSLClientHandler(context: tls, serverHostname: serverName))
                        }
                        try channel.pipeline.syncOperations.addHandler(RESPHandler(onPush: onPush))
                    }
                }
        }
        let channel: any Channel
        do {
            switch configuration.url.endpoint {
            case .tcp(let host, let port):
                channel = try await bootstrap(host).channelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .connect(host: host, port: port).get()
            case .unixSocket(let path):
                channel = try await bootstrap("localhost").connect(unixDomainSocketPath: path).get()
            case .sentinel(let nodes, let primary):
                let address = try await Self.primaryAddress(
                    named: primary, asking: nodes, configuration: configuration, eventLoopGroup: group)
                channel = try await bootstrap(address.host).channelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .connect(host: address.host, port: address.port).get()
            case .cluster(let nodes):
                channel = try await Self.firstAnswering(nodes, with: bootstrap)
            }
        } catch {
            throw RedisError.connectionFailed("\(configuration.url): \(error)")
        }
        do {
            try await handshake(on: channel)
        } catch {
            try? await channel.close()
            throw error
        }
        return channel
    }

    /// AUTH, SELECT, CLIENT SETNAME and SUBSCRIBE, pipelined in one round trip.
    private func handshake(on channel: any Channel) async throws {
        var handshakeCommands: [RedisCommand] = []
        let url = configuration.url
        if let password = url.password {
            handshakeCommands.append(url.user.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password))
        }
        if url.database != 0 { handshakeCommands.append(RedisCommand("SELECT", url.database)) }
        if let name = configuration.clientName { handshakeCommands.append(RedisCommand("CLIENT", "SETNAME", name)) }
        // A Sentinel's answer may be a moment old: the server must be the primary.
        if case .sentinel = url.endpoint { handshakeCommands.append(RedisCommand("ROLE")) }
        // One SUBSCRIBE per channel: Redis answers a SUBSCRIBE once per channel it names.
        handshakeCommands += subscriptions.map { RedisCommand("SUBSCRIBE", $0) }
        guard !handshakeCommands.isEmpty else { return }
        let commands = handshakeCommands
        let timeout = configuration.connectTimeout
        let futures = try await channel.eventLoop.submit { () -> [EventLoopFuture<RESPValue>] in
            let futures = commands.map { command -> EventLoopFuture<RESPValue> in
                let promise = channel.eventLoop.makePromise(of: RESPValue.self)
                Self.write(RedisRequest(command: command, promise: promise, timeout: timeout), to: channel)
                return promise.futureResult
            }
            channel.flush()
            return futures
        }.get()
        for (command, future) in zip(commands, futures) {
            let reply = try await future.get()
            if case .error(let message) = reply {
                switch command.name {
                case "AUTH", "SELECT": throw RedisError.authenticationFailed("\(command.name): \(message)")
                default: throw RedisError.server("\(command.name): \(message)")
                }
            }
            if command.name == "ROLE", let role = reply.array?.first?.string, role != "master" {
                throw RedisError.connectionFailed("\(url): the server the Sentinels named is a \(role) now; asking them again")
            }
        }
    }

    static func redisError(_ error: any Error) -> RedisError {
        switch error {
        case let error as RedisError: return error
        case is CancellationError: return .connectionClosed
        case let error as ChannelError:
            switch error {
            case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed, .inputClosed: return .connectionClosed
            default: return .connectionFailed(String(describing: error))
            }
        default: return .connectionFailed(String(describing: error))
        }
    }
}
