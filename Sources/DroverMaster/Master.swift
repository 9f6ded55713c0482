import DroverAPI
import DroverCore
import DroverMaintenance
import DroverTLS
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import ServiceLifecycle

/// `drover master`: the REST and TCP front doors, the reaper, the promoter and the janitor,
/// metrics and the throughput history behind the dashboard, all against one Redis that holds every piece of state. Run as many as you
/// like on one Redis; stop any of them and nothing is lost.
public struct Master: Sendable {
    public struct Configuration: Sendable {
        public var httpHost = "127.0.0.1"
        public var httpPort = 8080
        public var tcpHost = "127.0.0.1"
        public var tcpPort = 7070
        /// The reaper, the promoter and the janitor.
        public var maintenance = Maintenance.Configuration()
        /// Whether this master runs them (every master does by default; they are safe to run
        /// anywhere, and a deployment needs them somewhere).
        public var runsMaintenance = true
        /// The longest a `wait` or a remote worker's claim holds a request open.
        public var maxWait: Duration = .seconds(60)
        public var limits = MasterLimits()
        /// Token auth: `nil` (the default) lets anyone who can connect do anything.
        public var auth: TokenAuthenticator?
        /// TLS on both doors: `nil` (the default) serves plain HTTP and TCP. With a CA, every
        /// client must present a certificate it signed, whose common name is the client's
        /// identity (mutual TLS; see ``Caller``).
        public var tls: TLSFiles?

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

    /// The services a master runs; put them in a `ServiceGroup` (``run()`` does). Throws when
    /// the TLS files cannot be loaded.
    public func services(onHTTPRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> (
        services: [any Service], tcp: TCPServer
    ) {
        let metrics = MetricsExporter(store: store, heartbeatTimeout: configuration.maintenance.heartbeatTimeout)
        let api = MasterAPI(store: store, maxWait: configuration.maxWait, metrics: metrics, logger: logger)
        let tls = try configuration.tls.map { files throws -> MasterTLS in
            do {
                return MasterTLS(
                    configuration: try files.serverConfiguration(),
                    context: try NIOSSLContext(configuration: try files.serverConfiguration()),
                    clientCertificatesRequired: files.certificateAuthority != nil)
            } catch {
                throw TLSFilesError("the master's TLS: \(error)")
            }
        }
        let doors = MasterDoors(auth: configuration.auth, clientCertificatesRequired: tls?.clientCertificatesRequired ?? false)
        let router = RESTRoutes.router(
            api: api, metrics: metrics, limits: configuration.limits, doors: doors, tls: tls != nil, logger: logger)
        let httpGuard = ConnectionGuard(door: "http", limits: configuration.limits, logger: logger)
        let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [HTTPRequestProgressHandler()])
        let server = HTTPServerBuilder { responder in
            let base = HTTP1Channel(responder: responder, configuration: http1)
            if let tls {
                return GuardedChildChannel(base: try TLSChannel(base, tlsConfiguration: tls.configuration), connectionGuard: httpGuard)
            }
            return GuardedChildChannel(base: base, connectionGuard: httpGuard)
        }
        let http = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "drover"),
            onServerRunning: { channel in await onHTTPRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        let tcp = TCPServer(
            host: configuration.tcpHost, port: configuration.tcpPort, api: api, limits: configuration.limits, doors: doors,
            tls: tls?.context, logger: logger)
        var services: [any Service] = [http, tcp, ThroughputSampler(store: store, logger: logger)]
        if configuration.runsMaintenance {
            services.append(Maintenance(store: store, configuration: configuration.maintenance, logger: logger))
        }
        return (services, tcp)
    }

    /// Runs until SIGTERM or SIGINT.
    public func run() async throws {
        let group = ServiceGroup(
            configuration: .init(services: try services().services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The master's TLS, loaded once for both doors.
struct MasterTLS: Sendable {
    let configuration: TLSConfiguration
    let context: NIOSSLContext
    let clientCertificatesRequired: Bool
}

/// What both doors need to know about a caller: how to check its token, and whether its TLS
/// client certificate names it.
struct MasterDoors: Sendable {
    let auth: TokenAuthenticator?
    let clientCertificatesRequired: Bool

    /// The caller behind `token` (`nil`: none given) and `certificate`: `401` for a missing or
    /// wrong token when auth is on.
    func caller(token: String?, certificate: NIOSSLCertificate?) throws(APIError) -> Caller {
        var caller = try auth.map { auth throws(APIError) in try auth.authenticate(token: token) } ?? .anyone
        if clientCertificatesRequired {
            guard let certificate else { throw .unauthorized("a client certificate is required") }
            caller.identities.append(try Caller.identity(of: certificate))
        }
        return caller
    }
}
