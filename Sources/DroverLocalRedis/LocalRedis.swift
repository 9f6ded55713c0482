import DroverProcess
import DroverRedis
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A private `redis-server`: its own temporary directory, a free port, no persistence unless
/// asked. The tests start one per test; `drover demo` starts one for the demo.
public final class LocalRedis: Sendable {
    public let port: Int
    public let directory: String
    public let process: ChildProcess
    /// The server's `requirepass`, if it has one.
    public let password: String?

    public var url: String { "redis://\(password.map { ":\($0)@" } ?? "")127.0.0.1:\(port)" }

    /// Starts a server and waits until it answers PING.
    ///
    /// - Parameter password: By default each server gets a random password, so a client left
    ///   over from an earlier server on the same port (a port the kernel handed out again) is
    ///   refused instead of writing into this one. `nil` for none.
    public static func start(arguments extra: [String] = [], password: String? = randomPassword()) async throws -> LocalRedis {
        let executable = try findExecutable("redis-server")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-redis-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try freePort()
            let arguments =
                [
                    "--port", String(port), "--bind", "127.0.0.1", "--dir", directory, "--save", "", "--appendonly", "no",
                    "--daemonize", "no", "--logfile", "",
                    // The setting the README recommends: job hashes keep the compact encoding.
                    "--hash-max-listpack-value", "1024",
                ] + (password.map { ["--requirepass", $0] } ?? []) + extra
            let process = try ChildProcess(executable: executable, arguments: arguments, logPath: directory + "/redis.log")
            let server = LocalRedis(port: port, directory: directory, process: process, password: password)
            do {
                try await server.waitUntilReady()
                return server
            } catch {
                lastError = error
                await process.stop()
            }
        }
        throw lastError ?? ChildProcessError.notReady("redis-server did not start")
    }

    /// Starts a new server on the port and directory of a stopped one, with its arguments,
    /// so it reads back what the old one persisted.
    public static func restart(_ old: LocalRedis) async throws -> LocalRedis {
        let process = try ChildProcess(
            executable: old.process.executable, arguments: old.process.arguments, logPath: old.directory + "/redis.log")
        let server = LocalRedis(port: old.port, directory: old.directory, process: process, password: old.password)
        try await server.waitUntilReady()
        return server
    }

    /// A password for one server: letters and digits, safe in a URL.
    public static func randomPassword() -> String {
        String((0..<24).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
    }

    private init(port: Int, directory: String, process: ChildProcess, password: String?) {
        self.password = password
        self.port = port
        self.directory = directory
        self.process = process
        Self.running.withLock { $0[process.pid] = directory }
        Self.installExitHandler
    }

    /// Servers not stopped yet, killed when this process exits: a test that ends early or a
    /// demo that dies must not leave redis-servers behind.
    private static let running = Mutex<[pid_t: String]>([:])
    private static let installExitHandler: Void = {
        atexit {
            let leftovers = LocalRedis.running.withLock { $0 }
            for (pid, directory) in leftovers {
                kill(pid, SIGKILL)
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }()

    private func waitUntilReady(timeout: Duration = .seconds(10)) async throws {
        var quiet = Logger(label: "drover.test.redis-server")
        quiet.logLevel = .critical
        let client = RedisClient(
            configuration: RedisConfiguration(
                url: try RedisURL(url), connectTimeout: .seconds(1), reconnectInitialDelay: .milliseconds(10),
                reconnectMaximumDelay: .milliseconds(50)),
            logger: quiet)
        defer { Task { await client.close() } }
        let deadline = ContinuousClock.now + timeout
        while true {
            guard process.isRunning else {
                throw ChildProcessError.notReady("redis-server exited: \(process.output().suffix(500))")
            }
            do {
                try await client.send("PING")
                return
            } catch .server(let message) where !message.hasPrefix("LOADING") {
                return  // It answered (NOAUTH and the like): it is up.
            } catch {
                // Not listening yet, or still loading its data set.
            }
            if ContinuousClock.now > deadline {
                throw ChildProcessError.notReady("redis-server did not answer PING within \(timeout)")
            }
        }
    }

    /// Stops the server and removes its directory.
    public func stop() async {
        await process.stop()
        _ = Self.running.withLock { $0.removeValue(forKey: process.pid) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A client straight to this server.
    public func client() throws -> RedisClient {
        RedisClient(configuration: try RedisConfiguration(url))
    }

    /// Finds `name` on PATH or in the usual system directories.
    public static func findExecutable(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ChildProcessError.spawnFailed(name, "not found on PATH; install it (Debian: apt-get install redis-server)")
    }

    /// A TCP port nobody listens on right now.
    public static func freePort() throws -> Int {
        let (fd, port) = try boundSocket()
        close(fd)
        return port
    }

    /// Runs `body` with a port that refuses connections: bound here and not listening, so no
    /// other process can take it meanwhile (a port merely found free could be).
    public static func withRefusingPort<T>(_ body: (Int) async throws -> T) async throws -> T {
        let (fd, port) = try boundSocket()
        defer { close(fd) }
        return try await body(port)
    }

    /// A TCP socket bound to a port of the kernel's choosing on 127.0.0.1, and the port.
    private static func boundSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ChildProcessError.notReady("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw ChildProcessError.notReady("bind() failed")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

}
