/// How to reach Redis and how patient to be with it.
public struct RedisConfiguration: Sendable {
    public var url: RedisURL
    /// How long one connection attempt (TCP connect plus AUTH/SELECT) may take.
    public var connectTimeout: Duration
    /// How long a command waits for its reply before the connection is declared stuck.
    public var commandTimeout: Duration
    /// The wait after the first failed connection attempt; it doubles with each failure.
    public var reconnectInitialDelay: Duration
    /// The longest wait between two connection attempts.
    public var reconnectMaximumDelay: Duration
    /// Sent as `CLIENT SETNAME`, so `CLIENT LIST` shows who is connected.
    public var clientName: String?
    /// When a function call (every job transition) counts as done.
    public var durability: Durability = .primary

    /// When Redis's answer to a write is enough.
    public enum Durability: Sendable, Equatable {
        /// When the primary has it (Redis's default): a failover may lose the last writes the
        /// replicas had not received yet.
        case primary
        /// When `replicas` replicas have it too (`WAIT` after the call, on the same
        /// connection); a write not confirmed within `timeout` fails with
        /// ``RedisError/notReplicated(wanted:confirmed:)``, its outcome unknown.
        case replicas(Int, timeout: Duration)
    }

    public init(
        url: RedisURL,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(10),
        reconnectInitialDelay: Duration = .milliseconds(50),
        reconnectMaximumDelay: Duration = .seconds(2),
        clientName: String? = nil
    ) {
        self.url = url
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.reconnectInitialDelay = reconnectInitialDelay
        self.reconnectMaximumDelay = reconnectMaximumDelay
        self.clientName = clientName
    }

    public init(_ url: String, clientName: String? = nil) throws(RedisError) {
        self.init(url: try RedisURL(url), clientName: clientName)
    }

    /// The wait before the next connection attempt after `failures` failed ones in a row:
    /// none after a success, then the initial delay, doubling up to the maximum.
    public func reconnectDelay(afterFailures failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        var delay = reconnectInitialDelay
        for _ in 1..<min(failures, 30) where delay < reconnectMaximumDelay {
            delay *= 2
        }
        return min(delay, reconnectMaximumDelay)
    }
}
