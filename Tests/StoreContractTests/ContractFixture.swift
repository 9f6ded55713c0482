import DroverCore
import DroverMaster
import DroverRemote
import DroverTestSupport
import ServiceLifecycle

/// The stores the contract suite holds to one set of tests: Redis, Redis Cluster (three
/// primaries with a replica each), in memory, and remote (a master in this process, over its
/// REST door and over its TCP door).
enum ContractKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case redis
    case redisCluster
    case memory
    case remoteHTTP
    case remoteTCP

    var description: String { rawValue }
}

/// A fresh, empty store of one kind.
struct ContractFixture: Sendable {
    /// The store under test.
    let store: any JobStore
    /// The store that runs maintenance, statistics and queue defaults: a master does those
    /// itself, so for a remote store it is the Redis store behind the master.
    let maintenance: any JobStore
    let server: RedisServer?
    private let local: StoreFixture
    private let master: (group: ServiceGroup, running: Task<Void, any Error>)?

    static func make(
        _ kind: ContractKind, retention: RetentionPolicy = RetentionPolicy(), defaults: QueueDefaults = .standard,
        limits: SubmitLimits = SubmitLimits()
    ) async throws -> ContractFixture {
        switch kind {
        case .memory, .redis:
            let local = try await StoreFixture.make(
                kind == .memory ? .memory : .redis, retention: retention, defaults: defaults, limits: limits)
            return ContractFixture(store: local.store, maintenance: local.store, server: local.server, local: local, master: nil)
        case .redisCluster:
            let local = try await StoreFixture.onSharedCluster(retention: retention, defaults: defaults, limits: limits)
            return ContractFixture(store: local.store, maintenance: local.store, server: nil, local: local, master: nil)
        case .remoteHTTP, .remoteTCP:
            let local = try await StoreFixture.make(.redis, retention: retention, defaults: defaults, limits: limits)
            var configuration = Master.Configuration()
            configuration.httpPort = 0
            configuration.tcpPort = 0
            // The tests run maintenance themselves, when they mean to.
            configuration.runsMaintenance = false
            let (ports, port) = AsyncStream.makeStream(of: Int.self)
            let (services, tcp) = try Master(store: local.store, configuration: configuration, logger: quietLogger).services {
                port.yield($0)
            }
            let group = ServiceGroup(configuration: .init(services: services, logger: quietLogger))
            let running = Task { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let httpPort = await iterator.next() else { throw ChildProcessError.notReady("the master did not start") }
            let url = kind == .remoteHTTP ? "http://127.0.0.1:\(httpPort)" : "tcp://127.0.0.1:\(try await tcp.boundPort)"
            return ContractFixture(
                store: try RemoteJobStore(masterURL: url), maintenance: local.store, server: local.server, local: local,
                master: (group, running))
        }
    }

    func tearDown() async {
        await store.close()
        if let master {
            await master.group.triggerGracefulShutdown()
            _ = try? await master.running.value
        }
        await local.tearDown()
    }
}
