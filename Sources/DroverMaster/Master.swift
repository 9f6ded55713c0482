import Drover
import DroverCore
import DroverRedis
import Hummingbird
import Logging
import ServiceLifecycle

/// Bounds on what the master accepts.
public struct MasterLimits: Sendable {
    /// The largest HTTP request body (a batch of jobs included).
    public var maxBodyBytes: Int
    /// The largest TCP frame (one line).
    public var maxFrameBytes: Int
    /// Bad TCP frames in a row before the connection is closed.
    public var maxBadFrames: Int

    public init(maxBodyBytes: Int = 16 << 20, maxFrameBytes: Int = 2 << 20, maxBadFrames: Int = 5) {
        self.maxBodyBytes = maxBodyBytes
        self.maxFrameBytes = maxFrameBytes
        self.maxBadFrames = maxBadFrames
    }
}

/// `drover master`: the REST and TCP front doors, the reaper, the promoter and the janitor,
/// and metrics, all against one Redis that holds every piece of state. Run as many as you
/// like on one Redis; stop any of them and nothing is lost.
public struct Master: Sendable {
    public struct Configuration: Sendable {
        public var httpHost = "127.0.0.1"
        public var httpPort = 8080
        public var tcpHost = "127.0.0.1"
        public var tcpPort = 7070
        /// How long a worker may be silent before the reaper hands back its jobs.
        public var heartbeatTimeout: Duration = .seconds(10)
        public var reaperInterval: Duration = .seconds(1)
        public var promoterInterval: Duration = .seconds(1)
        public var janitorInterval: Duration = .seconds(60)
        /// The longest a `wait` or a remote worker's claim holds a request open.
        public var maxWait: Duration = .seconds(60)
        public var limits = MasterLimits()
        /// Token auth: `nil` (the default) lets anyone who can connect do anything.
        public var auth: TokenAuthenticator?

        public init() {}
    }

    public let store: any JobStore
    public let configuration: Configuration
    public let logger: Logger

    public init(store: any JobStore, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "drover.master")) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// The services a master runs; put them in a `ServiceGroup` (``run()`` does).
    public func services(onHTTPRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> (services: [any Service], tcp: TCPServer) {
        let metrics = MetricsExporter(store: store, heartbeatTimeout: configuration.heartbeatTimeout)
        let api = MasterAPI(store: store, maxWait: configuration.maxWait, metrics: metrics, logger: logger)
        let router = RESTRoutes.router(api: api, metrics: metrics, limits: configuration.limits, auth: configuration.auth, logger: logger)
        let http = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "drover"),
            onServerRunning: { channel in await onHTTPRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        let tcp = TCPServer(
            host: configuration.tcpHost, port: configuration.tcpPort, api: api, limits: configuration.limits, auth: configuration.auth,
            logger: logger)
        let services: [any Service] = [
            http, tcp,
            Reaper(store: store, heartbeatTimeout: configuration.heartbeatTimeout, interval: configuration.reaperInterval, logger: logger),
            Promoter(store: store, interval: configuration.promoterInterval, logger: logger),
            Janitor(store: store, interval: configuration.janitorInterval, logger: logger),
        ]
        return (services, tcp)
    }

    /// Runs until SIGTERM or SIGINT.
    public func run() async throws {
        let group = ServiceGroup(
            configuration: .init(services: services().services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
