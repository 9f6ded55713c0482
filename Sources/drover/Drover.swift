import ArgumentParser
import Drover
import DroverCore
import DroverRedis
import DroverRedisStore
import DroverRemote
import DroverTLS
import Foundation
import Logging

@main
struct DroverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drover",
        abstract: "A distributed task queue on Redis.",
        discussion: """
            Examples:
              drover worker --redis redis://127.0.0.1:6379 --queue default --concurrency 20
              drover submit sleep '{"ms":500}' --wait 10
              drover status 01JDZ6Q1S2T3V4W5X6Y7Z8A9BC
            """,
        version: DroverVersion.current,
        subcommands: [
            MasterCommand.self, WorkerCommand.self, SubmitCommand.self, StatusCommand.self, WaitCommand.self, JobsCommand.self,
            QueuesCommand.self, ScheduleCommand.self, WorkflowCommand.self, BatchCommand.self, WorkersCommand.self, DLQCommand.self,
            CancelCommand.self,
            DemoCommand.self,
            BenchCommand.self, RunJobCommand.self,
        ]
    )
}

/// Options every command that talks to Redis shares.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Redis URL: redis://[user:password@]host:port[/db], rediss://…[?ca=PEM&cert=PEM&key=PEM] (TLS), unix:///path.sock, redis+sentinel://host:port,…/primary-name or redis+cluster://host:port,… (rediss+cluster:// for TLS) (env DROVER_REDIS_URL).",
            valueName: "url"))
    var redis: String = ProcessInfo.processInfo.environment["DROVER_REDIS_URL"] ?? "redis://127.0.0.1:6379"

    @Option(
        name: .customLong("master"),
        help: ArgumentHelp(
            "Go through a master instead: http://HOST:PORT or tcp://HOST:PORT, https:// or tcps:// for TLS (env DROVER_MASTER_URL).",
            valueName: "url"))
    var masterFlag: String?

    /// `--master`, else `DROVER_MASTER_URL`.
    var master: String? { masterFlag ?? ProcessInfo.processInfo.environment["DROVER_MASTER_URL"] }

    @Option(
        name: .customLong("token"),
        help: ArgumentHelp("The token to present to a master that requires one (env DROVER_TOKEN).", valueName: "token"))
    var tokenFlag: String?

    /// `--token`, else `DROVER_TOKEN`. Prefer the environment: a flag shows in `ps`.
    var token: String? { tokenFlag ?? ProcessInfo.processInfo.environment["DROVER_TOKEN"] }

    @Option(
        name: .customLong("tls-cert"),
        help: ArgumentHelp(
            "TLS: this process's certificate (PEM). A master serves https and tcps with it; a client or worker presents it to a master that asks (env DROVER_TLS_CERT).",
            valueName: "path"))
    var tlsCertFlag: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("TLS: the key of --tls-cert (PEM) (env DROVER_TLS_KEY).", valueName: "path"))
    var tlsKeyFlag: String?

    @Option(
        name: .customLong("tls-ca"),
        help: ArgumentHelp(
            "TLS: the CA (PEM) trusted for the other side: a client checks the master's certificate with it; a master requires client certificates it signed (env DROVER_TLS_CA).",
            valueName: "path"))
    var tlsCAFlag: String?

    /// `--tls-cert`, `--tls-key` and `--tls-ca` (else their environment variables); `nil` when
    /// none is given.
    var tls: TLSFiles? {
        let environment = ProcessInfo.processInfo.environment
        let files = TLSFiles(
            certificate: tlsCertFlag ?? environment["DROVER_TLS_CERT"], key: tlsKeyFlag ?? environment["DROVER_TLS_KEY"],
            certificateAuthority: tlsCAFlag ?? environment["DROVER_TLS_CA"])
        return files == TLSFiles() ? nil : files
    }

    @Option(
        name: .long,
        help: ArgumentHelp(
            "When Redis's answer to a job transition is enough: primary (when the primary has it) or replica (when a replica has it too: WAIT after each call) (env DROVER_DURABILITY).",
            valueName: "primary|replica"))
    var durability: String?

    /// `--durability`, else `DROVER_DURABILITY`; `replica` waits up to a second for one replica.
    func redisDurability() throws -> RedisConfiguration.Durability {
        switch durability ?? ProcessInfo.processInfo.environment["DROVER_DURABILITY"] ?? "primary" {
        case "primary": return .primary
        case "replica": return .replicas(1, timeout: .seconds(1))
        case let other: throw ValidationError("--durability is primary or replica, not '\(other)'")
        }
    }

    @Option(name: .long, help: ArgumentHelp("Prefix of every Redis key.", valueName: "prefix"))
    var keyPrefix: String = "drover"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (env DROVER_LOG_LEVEL).")
    var logLevel: String?

    /// Servers (master, worker) log at `info` by default; one-shot commands only log errors,
    /// so that their failure is the one line they print.
    func bootstrapLogging(server: Bool = false) {
        let text = logLevel ?? ProcessInfo.processInfo.environment["DROVER_LOG_LEVEL"]
        Self.bootstrapStandardErrorLogging(level: text.flatMap(Logger.Level.init(rawValue:)) ?? (server ? .info : .error))
    }

    static func bootstrapStandardErrorLogging(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// The master's store when `--master` is given, else Redis's.
    func store(clientName: String, logger: Logger) throws -> any JobStore {
        if let master { return try RemoteJobStore(masterURL: master, token: token, tls: tls) }
        return try redisStore(clientName: clientName, logger: logger)
    }

    func redisStore(clientName: String, logger: Logger) throws -> RedisJobStore {
        var redis = try RedisConfiguration(self.redis, clientName: clientName)
        redis.durability = try redisDurability()
        return RedisJobStore(configuration: .init(redis: redis, keys: KeySchema(prefix: keyPrefix)), logger: logger)
    }
}

extension Duration {
    init(seconds value: Double) {
        self = .milliseconds(Int64((value * 1000).rounded()))
    }
}

/// Prints `message` to standard error and exits with status 1: one clear line, no stack.
func fail(_ message: String) -> Never {
    warn(message)
    exit(1)
}

/// Prints `message` to standard error, as `fail` does, and carries on.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("drover: \(message)\n".utf8))
}

/// The job ids a command was given as arguments or, with `-`, one per line on standard input;
/// fails on the first that is not a job id.
func jobIDs(_ arguments: [String]) -> [JobID] {
    var texts = arguments
    if texts == ["-"] {
        texts = []
        while let line = readLine() { if !line.isEmpty { texts.append(line) } }
    }
    return texts.map { text in
        guard let id = JobID(text) else { fail("'\(text)' is not a job id") }
        return id
    }
}
