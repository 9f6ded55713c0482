import Logging
import NIOCore
import Synchronization

/// Listens to the Sentinels' `+switch-master` announcements for one primary and tells every
/// connection to it, so that a connection to a primary the Sentinels replaced is dropped and
/// made again to the new one at once, not when the old one is demoted or fails.
///
/// That shortens the one window in which a Sentinel failover can lose writes Drover was told
/// succeeded: a former primary the Sentinels cannot reach but clients can goes on taking
/// writes until it rejoins as a replica and drops them.
///
/// One watch per process and primary: a subscription on every Sentinel named (a message
/// from any of them is enough; the repeats do nothing), kept up by a task of its own.
final class SentinelWatch: Sendable {
    struct Key: Hashable {
        var nodes: [RedisURL.HostAndPort]
        var primary: String
    }

    private static let watches = Mutex<[Key: SentinelWatch]>([:])

    /// The watch for `primary` behind `nodes`, started by the first connection to ask.
    static func shared(
        nodes: [RedisURL.HostAndPort], primary: String, configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup
    )
        -> SentinelWatch
    {
        watches.withLock { watches in
            let key = Key(nodes: nodes, primary: primary)
            if let watch = watches[key] { return watch }
            let watch = SentinelWatch(key: key, configuration: configuration, eventLoopGroup: eventLoopGroup)
            watches[key] = watch
            return watch
        }
    }

    private let listeners = Mutex<[ObjectIdentifier: @Sendable () -> Void]>([:])

    private init(key: Key, configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup) {
        var quiet = Logger(label: "drover.redis.sentinel")
        quiet.logLevel = .critical
        let primary = key.primary
        for node in key.nodes {
            let subscription = RedisConnection(
                configuration: RedisConfiguration(
                    url: RedisURL(endpoint: .tcp(host: node.host, port: node.port)), connectTimeout: configuration.connectTimeout,
                    reconnectInitialDelay: configuration.reconnectInitialDelay, reconnectMaximumDelay: configuration.reconnectMaximumDelay),
                eventLoopGroup: eventLoopGroup, logger: quiet, subscriptions: ["+switch-master"]
            ) { [weak self] message in
                // ["message", "+switch-master", "<name> <old ip> <old port> <new ip> <new port>"]
                guard let self, case .array(let parts) = message, parts.count == 3,
                    parts[2].string?.split(separator: " ").first.map(String.init) == primary
                else { return }
                for listener in self.listeners.withLock({ Array($0.values) }) { listener() }
            }
            // The subscription is kept for the life of the process: a Sentinel that goes away
            // is subscribed to again when it is back.
            Task {
                while true {
                    do {
                        try await subscription.connect()
                        if let closed = subscription.currentConnectionClosed { try? await closed.get() }
                    } catch {
                        try? await Task.sleep(for: configuration.reconnectMaximumDelay)
                    }
                }
            }
        }
    }

    /// Calls `onSwitch` whenever the Sentinels announce a new primary, until ``stopListening(_:)``.
    func listen(_ owner: AnyObject, onSwitch: @escaping @Sendable () -> Void) {
        listeners.withLock { $0[ObjectIdentifier(owner)] = onSwitch }
    }

    func stopListening(_ owner: AnyObject) {
        _ = listeners.withLock { $0.removeValue(forKey: ObjectIdentifier(owner)) }
    }
}
