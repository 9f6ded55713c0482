import DroverCore
import DroverRedis
import Foundation
import Logging
import Synchronization

/// The production ``JobStore``: every job, queue, retry, dead letter and heartbeat in Redis.
///
/// Connections are few and fixed, whatever the concurrency: one for commands (shared by
/// every task and pipelined), one per worker and queue for blocking fetches (`BLMOVE` holds
/// its connection; see ``BlockingFetcher``), and one pub/sub connection, opened by the first
/// call that listens (``waitUntilFinished(_:queue:timeout:)``, a worker waiting for cancel
/// requests or for a concurrency slot, the promoter waiting for due times).
///
/// Its methods live by concern: submitting (`RedisJobStore+Submit`), reading (`+Inspection`),
/// claiming (`+Claim`), reports and heartbeats (`+Reports`), maintenance and dead letters
/// (`+Maintenance`). Each lifecycle step is one function of ``DroverLibrary``.
public final class RedisJobStore: JobStore {
    public struct Configuration: Sendable {
        public var redis: RedisConfiguration
        public var keys: KeySchema
        public var retention: RetentionPolicy
        /// Retry settings for jobs that bring none and whose queue has none set.
        public var defaults: QueueDefaults
        public var limits: SubmitLimits
        /// How long a blocking-fetch connection may go unused before it is closed: a worker
        /// that vanished (a remote worker killed behind a master) leaves no connection behind.
        public var fetchConnectionIdleTimeout: Duration

        public init(
            redis: RedisConfiguration, keys: KeySchema = KeySchema(), retention: RetentionPolicy = RetentionPolicy(),
            defaults: QueueDefaults = .standard, limits: SubmitLimits = SubmitLimits(),
            fetchConnectionIdleTimeout: Duration = .seconds(30)
        ) {
            self.redis = redis
            self.keys = keys
            self.retention = retention
            self.defaults = defaults
            self.limits = limits
            self.fetchConnectionIdleTimeout = fetchConnectionIdleTimeout
        }
    }

    public let configuration: Configuration
    /// The connection for everything but blocking fetches and pub/sub.
    public let redis: RedisClient
    let logger: Logger
    let waiters = FinishedJobWaiters()
    let cancelMailboxes = CancelMailboxes()
    /// Fired when a job gets a due time earlier than its queue had (the due channel).
    let dueTimesChanged = Wakeup()
    let subscriber: RedisClient
    let fetcher: BlockingFetcher
    let registeredQueues = Mutex<Set<String>>([])
    /// Whether ``moveLegacyKeys()`` ran.
    let legacyKeysMoved = Mutex(false)
    let context: FunctionContext

    public init(configuration: Configuration, logger: Logger = Logger(label: "drover.store")) {
        self.configuration = configuration
        self.logger = logger
        var commandConfiguration = configuration.redis
        commandConfiguration.clientName = commandConfiguration.clientName ?? "drover"
        self.redis = RedisClient(configuration: commandConfiguration, logger: logger)
        let fetcher = BlockingFetcher(
            configuration: commandConfiguration, keys: configuration.keys, idleTimeout: configuration.fetchConnectionIdleTimeout,
            logger: logger)
        self.fetcher = fetcher
        let (waiters, mailboxes, dueTimesChanged) = (self.waiters, self.cancelMailboxes, self.dueTimesChanged)
        var subscriberConfiguration = commandConfiguration
        subscriberConfiguration.clientName = commandConfiguration.clientName.map { $0 + ".events" }
        let keys = configuration.keys
        self.subscriber = RedisClient(
            configuration: subscriberConfiguration, logger: logger,
            subscriptions: [keys.finishedChannel, keys.dueChannel, keys.cancelChannel, keys.slotsChannel]
        ) { message in
            // ["message", channel, text]
            guard case .array(let parts) = message, parts.count == 3, let channel = parts[1].string, let text = parts[2].string
            else { return }
            let words = text.split(separator: " ").map(String.init)
            switch channel {
            case keys.finishedChannel:  // "<id> <state>"
                if let id = words.first.flatMap(JobID.init) { waiters.notify(id) }
            case keys.cancelChannel:  // "<id> <worker>"
                if words.count == 2, let id = JobID(words[0]) { mailboxes.deliver(id, to: words[1]) }
            case keys.dueChannel:  // "<due ms>"
                dueTimesChanged.fire()
            case keys.slotsChannel:  // "<limits key>"
                fetcher.limitsEased(limitsKey: text)
            default:
                break
            }
        }
        self.context = FunctionContext(keys: configuration.keys, historyLimit: configuration.retention.historyLimit)
    }

    /// Convenience: a store for the Redis at `url` with default settings.
    public convenience init(url: String, logger: Logger = Logger(label: "drover.store")) throws {
        self.init(configuration: Configuration(redis: try RedisConfiguration(url)), logger: logger)
    }

    /// Closes every connection.
    public func close() async {
        await redis.close()
        await subscriber.close()
        await fetcher.close()
    }

    /// Open blocking-fetch connections (one per worker and queue that fetched lately).
    public var fetchConnectionCount: Int { fetcher.connectionCount }

    var keys: KeySchema { configuration.keys }

    /// Runs one function call and decodes its reply.
    func run<F: StoreFunction>(_ function: F) async throws -> F.Reply {
        let call = function.call(context)
        return try function.decode(try await redis.run(call.function, keys: call.keys, arguments: call.arguments))
    }

    /// Runs calls of one function in one pipeline and decodes their replies, in order.
    func run<F: StoreFunction>(_ functions: [F]) async throws -> [F.Reply] {
        guard !functions.isEmpty else { return [] }
        let replies = try await redis.run(functions.map { $0.call(context) })
        return try zip(functions, replies).map { function, reply throws(RedisError) in try function.decode(reply) }
    }

    /// One function call per queue, in the order queues first appear, and each call's items'
    /// positions in `items`: what a batch touching several queues sends in one pipeline.
    static func byQueue<Item, F>(_ items: [Item], queue: (Item) -> String, function: (String, [Item]) -> F) -> ([F], [[Int]]) {
        var order: [String] = []
        var indices: [String: [Int]] = [:]
        for (i, item) in items.enumerated() {
            let q = queue(item)
            if indices[q] == nil { order.append(q) }
            indices[q, default: []].append(i)
        }
        return (order.map { q in function(q, indices[q]!.map { items[$0] }) }, order.map { indices[$0]! })
    }
}
