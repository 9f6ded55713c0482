import AsyncHTTPClient
import Drover
import DroverCore
import DroverMaster
import DroverRedis
import DroverRedisStore
import DroverRemote
import DroverTLS
import DroverTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// A master in this process on free ports, over a private Redis, with helpers to call it.
final class MasterFixture: Sendable {
    let server: RedisServer
    let store: RedisJobStore
    let httpPort: Int
    let tcpPort: Int
    let http: HTTPClient
    /// The master's TLS files; `nil` for plain HTTP and TCP.
    let tls: TLSFiles?
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    var httpURL: String { "\(tls == nil ? "http" : "https")://127.0.0.1:\(httpPort)" }
    var tcpURL: String { "\(tls == nil ? "tcp" : "tcps")://127.0.0.1:\(tcpPort)" }

    static func start(
        heartbeatTimeout: Duration = .seconds(2), maxWait: Duration = .seconds(60), auth: TokenAuthenticator? = nil,
        limits: MasterLimits = MasterLimits(maxBodyBytes: 2 << 20, maxFrameBytes: 64 << 10, maxBadFrames: 3), server: RedisServer? = nil,
        tls: TLSFiles? = nil
    ) async throws -> MasterFixture {
        let server = try await { () async throws -> RedisServer in
            if let server { return server }
            return try await RedisServer.start()
        }()
        let store = RedisJobStore(configuration: .init(redis: try RedisConfiguration(server.url)), logger: quietLogger)
        var configuration = Master.Configuration()
        configuration.httpPort = 0
        configuration.tcpPort = 0
        configuration.maintenance.heartbeatTimeout = heartbeatTimeout
        configuration.maxWait = maxWait
        configuration.auth = auth
        configuration.maintenance.reaperInterval = .milliseconds(100)
        configuration.maintenance.promoterInterval = .milliseconds(50)
        configuration.limits = limits
        configuration.tls = tls
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let master = Master(store: store, configuration: configuration, logger: quietLogger)
        let (services, tcp) = try master.services { port in portContinuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: services, logger: quietLogger))
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let httpPort = await iterator.next() else { throw ChildProcessError.notReady("the HTTP server did not start") }
        let tcpPort = try await tcp.boundPort
        return MasterFixture(server: server, store: store, httpPort: httpPort, tcpPort: tcpPort, tls: tls, group: group, running: running)
    }

    private init(
        server: RedisServer, store: RedisJobStore, httpPort: Int, tcpPort: Int, tls: TLSFiles?, group: ServiceGroup,
        running: Task<Void, any Error>
    ) {
        self.tls = tls
        self.server = server
        self.store = store
        self.httpPort = httpPort
        self.tcpPort = tcpPort
        self.group = group
        self.running = running
        self.http = HTTPClient(eventLoopGroupProvider: .singleton)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        try? await http.shutdown()
        await store.close()
        await server.stop()
    }

    /// Sends an HTTP request and returns the status and the body.
    func request(_ method: HTTPMethod, _ path: String, body: String? = nil, token: String? = nil, tls clientTLS: TLSFiles? = nil)
        async throws -> (status: Int, body: String)
    {
        var request = HTTPClientRequest(url: httpURL + path)
        request.method = method
        request.tlsConfiguration = try clientTLS?.clientConfiguration()
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(60))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 16 << 20)))
    }

    /// A direct worker on this fixture's Redis with the built-in style handlers tests need.
    func directWorker(id: String, concurrency: Int = 4, handlers: JobHandlers = TestHandlers.all) -> Worker {
        Worker(
            store: store, handlers: handlers,
            configuration: .init(
                id: id, concurrency: concurrency, heartbeatInterval: .milliseconds(200), fetchTimeout: .seconds(1), maintenance: nil),
            logger: quietLogger)
    }

    /// A worker that reaches only the master.
    func remoteWorker(
        id: String, via url: String, concurrency: Int = 4, handlers: JobHandlers = TestHandlers.all, token: String? = nil,
        tls: TLSFiles? = nil
    ) throws -> (Worker, RemoteJobStore) {
        let remote = try RemoteJobStore(masterURL: url, token: token, tls: tls)
        let worker = Worker(
            store: remote, handlers: handlers,
            configuration: .init(
                id: id, concurrency: concurrency, heartbeatInterval: .milliseconds(200), fetchTimeout: .seconds(1), maintenance: nil),
            logger: quietLogger)
        return (worker, remote)
    }
}

/// Handlers like `drover worker`'s built-in ones.
enum TestHandlers {
    struct Flaky: Codable, Sendable { var failTimes: Int }
    struct Fail: Codable, Sendable { var message: String }
    struct Failure: Error, CustomStringConvertible { var description: String }

    static var all: JobHandlers {
        var handlers = JobHandlers()
        handlers.registerRaw("echo") { payload, _ in payload }
        handlers.registerRaw("noop") { _, _ in "null" }
        handlers.register("flaky") { (p: Flaky, context) -> Int in
            guard context.attempt > p.failTimes else { throw Failure(description: "flaky attempt \(context.attempt)") }
            return context.attempt
        }
        handlers.register("fail") { (p: Fail, _) in throw Failure(description: p.message) }
        return handlers
    }
}

/// Runs `worker` until the returned task is cancelled by `stop`.
func start(_ worker: Worker) -> Task<Void, any Error> {
    Task { try await worker.run() }
}

/// A line-based TCP connection to the master, for raw protocol tests.
final class TCPLineClient: Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw ChildProcessError.notReady("cannot connect to 127.0.0.1:\(port)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// The next line, or `nil` when the server closed the connection (or 10 s passed). The
    /// blocking read runs on a thread of its own, off Swift's cooperative pool.
    func nextLine() async -> String? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.readLine()) }.start()
        }
    }

    /// What a read ended with.
    enum ReadEnd: Equatable {
        case line(String)
        /// The server closed the connection (or reset it).
        case closed
        /// Nothing came for 10 s.
        case timedOut
    }

    /// Starts reading the next line on a thread of its own right now, and tells how the read
    /// ended: with a line, because the server hung up, or because nothing came.
    func watchNextLine() -> AsyncStream<ReadEnd> {
        let (stream, continuation) = AsyncStream.makeStream(of: ReadEnd.self)
        Thread {
            continuation.yield(self.readLineOrEnd())
            continuation.finish()
        }.start()
        return stream
    }

    /// The next line, read on the calling thread (which must not be one of the cooperative pool's).
    func readLineNow() -> String? { readLine() }

    private func readLine() -> String? {
        if case .line(let line) = readLineOrEnd() { return line }
        return nil
    }

    private func readLineOrEnd() -> ReadEnd {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n == 0 || (n < 0 && errno == ECONNRESET) { return .closed }
            if n < 0 { return .timedOut }
            if byte == UInt8(ascii: "\n") { return .line(String(decoding: line, as: UTF8.self)) }
            line.append(byte)
        }
    }
}
