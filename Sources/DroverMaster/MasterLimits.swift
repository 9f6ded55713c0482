/// Bounds on what the master accepts.
public struct MasterLimits: Sendable {
    /// The largest HTTP request body (a batch of jobs included).
    public var maxBodyBytes: Int
    /// The largest TCP frame (one line).
    public var maxFrameBytes: Int
    /// Bad TCP frames in a row before the connection is closed.
    public var maxBadFrames: Int

    /// Open connections per door; more are closed as soon as they are accepted.
    public var maxConnections: Int
    /// From a request's first byte to the whole TCP frame or HTTP request head: a client
    /// slower than this (a slowloris) is disconnected.
    public var requestTimeout: Duration
    /// How long a connection with nothing in progress may stay silent before it is closed.
    public var idleTimeout: Duration

    public init(
        maxBodyBytes: Int = 16 << 20, maxFrameBytes: Int = 2 << 20, maxBadFrames: Int = 5, maxConnections: Int = 4096,
        requestTimeout: Duration = .seconds(30), idleTimeout: Duration = .seconds(300)
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.maxFrameBytes = maxFrameBytes
        self.maxBadFrames = maxBadFrames
        self.maxConnections = maxConnections
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
    }
}
