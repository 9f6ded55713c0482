import ArgumentParser
import Drover
import DroverCore
import DroverMaster
import Foundation
import Logging

struct MasterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "master",
        abstract: "Run a master: REST and TCP front doors, reaper, promoter, janitor, metrics.",
        discussion: """
            The master keeps no state of its own: run several against one Redis, and stop any of
            them without losing a job.

            Examples:
              drover master
              drover master --http 0.0.0.0:8080 --tcp 0.0.0.0:7070 --redis redis://redis:6379
              curl -s localhost:8080/v1/jobs -d '{"type":"echo","payload":{"hi":1}}'
              echo '{"requestId":1,"op":"queues"}' | nc -q1 localhost 7070
              drover master --auth-file /etc/drover/tokens      (then: curl -H "Authorization: Bearer $TOKEN" …)
              drover master --tls-cert master.pem --tls-key master.key                  (https:// and tcps://)
              drover master --tls-cert master.pem --tls-key master.key --tls-ca ca.pem  (mutual TLS: clients need a
                certificate signed by ca.pem; its common name is their identity, and a worker identified as NAME
                may act only as worker NAME or …@NAME)
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: ArgumentHelp("REST address (env DROVER_HTTP).", valueName: "host:port"))
    var http: String = ProcessInfo.processInfo.environment["DROVER_HTTP"] ?? "127.0.0.1:8080"

    @Option(name: .long, help: ArgumentHelp("TCP address (env DROVER_TCP).", valueName: "host:port"))
    var tcp: String = ProcessInfo.processInfo.environment["DROVER_TCP"] ?? "127.0.0.1:7070"

    @Option(name: .long, help: "Seconds of silence after which the reaper hands back a worker's jobs.")
    var heartbeatTimeout: Double = 10

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Require tokens: a file of 'ROLE TOKEN [IDENTITY]' lines, ROLE one of read, client, worker, admin; IDENTITY pins a worker token to worker ids NAME or …@NAME (env DROVER_AUTH_FILE).",
            valueName: "path"))
    var authFile: String?

    @Option(name: .long, help: "The longest, in seconds, a client's wait or a remote worker's claim holds a request open.")
    var maxWait: Double = 60

    func validate() throws {
        _ = try Self.address(http, flag: "--http")
        _ = try Self.address(tcp, flag: "--tcp")
        guard heartbeatTimeout > 0 else { throw ValidationError("--heartbeat-timeout must be more than 0") }
    }

    static func address(_ text: String, flag: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("\(flag) must be HOST:PORT, got '\(text)'")
        }
        let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    func run() async throws {
        connection.bootstrapLogging(server: true)
        let logger = Logger(label: "drover.master")
        do {
            let store = try connection.redisStore(clientName: "drover.master", logger: logger)
            var configuration = Master.Configuration()
            (configuration.httpHost, configuration.httpPort) = try Self.address(http, flag: "--http")
            (configuration.tcpHost, configuration.tcpPort) = try Self.address(tcp, flag: "--tcp")
            configuration.maintenance.heartbeatTimeout = Duration(seconds: heartbeatTimeout)
            configuration.maxWait = Duration(seconds: maxWait)
            if let path = authFile ?? ProcessInfo.processInfo.environment["DROVER_AUTH_FILE"] {
                configuration.auth = try TokenAuthenticator(contentsOf: path)
                logger.info("token auth on", metadata: ["file": "\(path)"])
            }
            if let tls = connection.tls {
                guard tls.certificate != nil else { throw ValidationError("--tls-ca on a master needs --tls-cert and --tls-key too") }
                configuration.tls = tls
                logger.info("TLS on", metadata: ["clientCertificates": "\(tls.certificateAuthority == nil ? "not asked" : "required")"])
            }
            try await Master(store: store, configuration: configuration, logger: logger).run()
            await store.close()
        } catch {
            fail("\(error)")
        }
    }
}
