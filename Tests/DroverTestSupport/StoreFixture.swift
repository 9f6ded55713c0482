import DroverCore
import DroverRedis
import DroverRedisStore
import Logging

/// The two stores the contract suite runs against.
public enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case redis
    case memory

    public var description: String { rawValue }
}

/// A fresh, empty store of either kind; the Redis one on a private `redis-server`.
public struct StoreFixture: Sendable {
    public let store: any JobStore
    public let server: RedisServer?
    public let redisStore: RedisJobStore?

    public static func make(
        _ kind: StoreKind, retention: RetentionPolicy = RetentionPolicy(), defaults: QueueDefaults = .standard,
        limits: SubmitLimits = SubmitLimits()
    ) async throws -> StoreFixture {
        switch kind {
        case .memory:
            return StoreFixture(
                store: InMemoryJobStore(retention: retention, defaults: defaults, limits: limits), server: nil, redisStore: nil)
        case .redis:
            let server = try await RedisServer.start()
            let store = RedisJobStore(
                configuration: .init(
                    redis: try RedisConfiguration(server.url), retention: retention, defaults: defaults, limits: limits),
                logger: quietLogger)
            return StoreFixture(store: store, server: server, redisStore: store)
        }
    }

    /// A fresh store on the cluster every test of this process shares
    /// (``RedisClusterServers/shared``): its keys under a prefix of its own.
    public static func onSharedCluster(
        retention: RetentionPolicy = RetentionPolicy(), defaults: QueueDefaults = .standard, limits: SubmitLimits = SubmitLimits()
    ) async throws -> StoreFixture {
        let cluster = try await RedisClusterServers.shared()
        let store = RedisJobStore(
            configuration: .init(
                redis: try RedisConfiguration(cluster.url), keys: KeySchema(prefix: "t\(UInt32.random(in: 0...UInt32.max))"),
                retention: retention, defaults: defaults, limits: limits),
            logger: quietLogger)
        return StoreFixture(store: store, server: nil, redisStore: store)
    }

    public func tearDown() async {
        await redisStore?.close()
        await server?.stop()
    }
}

/// A logger that only reports what would fail a test anyway.
public let quietLogger: Logger = {
    var logger = Logger(label: "drover.test")
    logger.logLevel = .error
    return logger
}()
