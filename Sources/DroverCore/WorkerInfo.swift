/// What a worker tells the world about itself with every heartbeat.
public struct WorkerInfo: Sendable, Hashable, Codable {
    public var id: String
    public var host: String
    public var pid: Int
    public var queues: [String]
    public var concurrency: Int
    public var inFlight: Int
    /// Milliseconds since 1970.
    public var startedAt: Int64
    public var version: String
    /// Milliseconds since 1970, by the store's clock; set by the store.
    public var lastHeartbeat: Int64?

    public init(
        id: String, host: String, pid: Int, queues: [String], concurrency: Int, inFlight: Int, startedAt: Int64,
        version: String, lastHeartbeat: Int64? = nil
    ) {
        self.id = id
        self.host = host
        self.pid = pid
        self.queues = queues
        self.concurrency = concurrency
        self.inFlight = inFlight
        self.startedAt = startedAt
        self.version = version
        self.lastHeartbeat = lastHeartbeat
    }
}
