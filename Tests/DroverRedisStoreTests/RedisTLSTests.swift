import DroverCore
import DroverRedis
import DroverRedisStore
import DroverTLS
import DroverTestSupport
import Foundation
import Testing

/// `rediss://` to a redis-server started with `--tls-port`, logging in as an ACL user.
@Suite struct RedisTLSTests {
    /// A redis-server with a TLS port that requires client certificates, and an ACL user.
    static func server() async throws -> (server: RedisServer, tlsPort: Int, certificates: TestCertificates) {
        let certificates = try await TestCertificates.shared()
        // A port found free can be taken by another test's process before the server binds it
        // (the server then exits at once): another port is tried.
        var started: (server: RedisServer, tlsPort: Int)?
        var lastError: (any Error)?
        for _ in 1...3 where started == nil {
            let tlsPort = try RedisServer.freePort()
            do {
                let server = try await RedisServer.start(arguments: [
                    "--tls-port", String(tlsPort), "--tls-cert-file", certificates.directory + "/server.pem",
                    "--tls-key-file", certificates.directory + "/server.key", "--tls-ca-cert-file", certificates.ca,
                ])
                started = (server, tlsPort)
            } catch {
                lastError = error
            }
        }
        guard let (server, tlsPort) = started else { throw lastError ?? ChildProcessError.notReady("redis-server with TLS") }
        // The plain port is the test's own back door for setting up the ACL user.
        let admin = try server.client()
        _ = try await admin.send(RedisCommand("ACL", "SETUSER", "drover", "on", ">s3cret-pass", "~drover:*", "&*", "+@all"))
        await admin.close()
        return (server, tlsPort, certificates)
    }

    /// `rediss+cluster://`: TLS to every node of a cluster, pub/sub included.
    @Test func aStoreWorksOnAClusterOverTLS() async throws {
        let cluster = try await RedisClusterServers.startTLS()
        defer { Task { await cluster.stop() } }
        let url = try RedisURL(cluster.url)
        #expect(url.tls != nil && url.description.hasPrefix("rediss+cluster://:***@localhost:"))
        let store = RedisJobStore(configuration: .init(redis: RedisConfiguration(url: url)), logger: quietLogger)
        defer { Task { await store.close() } }
        let queues = (0..<6).map { "q\($0)" }
        let ids = try await store.submit(queues.map { JobRequest(queue: $0, type: "t") }).map(\.id)
        for queue in queues {
            let job = try #require(try await store.claim(queues: [queue], worker: "w", max: 1, start: true).first)
            #expect(try await store.complete([CompletionReport(job: job, result: "1")], worker: "w") == [.applied(.completed)])
        }
        // Waiting for a job goes through the subscription, over TLS too.
        let waited = try await store.waitUntilFinished(ids[0], queue: "q0", timeout: .seconds(5))
        #expect(waited?.state == .completed)
        #expect(try await store.queueCounts().map(\.completed).reduce(0, +) == 6)
    }

    @Test func aStoreWorksOverTLSAsAnACLUser() async throws {
        let (server, tlsPort, certificates) = try await Self.server()
        defer { Task { await server.stop() } }
        let dir = certificates.directory
        let url = "rediss://drover:s3cret-pass@localhost:\(tlsPort)?ca=\(certificates.ca)&cert=\(dir)/worker-a.pem&key=\(dir)/worker-a.key"
        let parsed = try RedisURL(url)
        #expect(
            parsed.tls == TLSFiles(certificate: dir + "/worker-a.pem", key: dir + "/worker-a.key", certificateAuthority: certificates.ca))
        #expect(parsed.description == "rediss://drover:***@localhost:\(tlsPort)")

        let store = RedisJobStore(configuration: .init(redis: try RedisConfiguration(url)), logger: quietLogger)
        defer { Task { await store.close() } }
        let submitted = try await store.submit([JobRequest(type: "noop", payload: #"{"secret":true}"#)])[0]
        let claimed = try #require(try await store.claim(queues: ["default"], worker: "w", max: 1, start: true).first)
        #expect(claimed.id == submitted.id)
        #expect(try await store.complete([CompletionReport(lease: claimed.lease, result: "1")], worker: "w") == [.applied(.completed)])

        // The same over the IP address: the certificate names 127.0.0.1 too.
        let byAddress = RedisClient(
            configuration: try RedisConfiguration(
                "rediss://drover:s3cret-pass@127.0.0.1:\(tlsPort)?ca=\(certificates.ca)&cert=\(dir)/worker-a.pem&key=\(dir)/worker-a.key"))
        #expect(try await byAddress.send(RedisCommand("PING")) == .simpleString("PONG"))
        await byAddress.close()
    }

    @Test func wrongCredentialsCertificatesOrSchemesAreRefused() async throws {
        let (server, tlsPort, certificates) = try await Self.server()
        defer { Task { await server.stop() } }
        let dir = certificates.directory
        let client = "cert=\(dir)/worker-a.pem&key=\(dir)/worker-a.key"
        let refused: [(String, String)] = [
            ("a wrong password", "rediss://drover:wrong@localhost:\(tlsPort)?ca=\(certificates.ca)&\(client)"),
            ("no client certificate", "rediss://drover:s3cret-pass@localhost:\(tlsPort)?ca=\(certificates.ca)"),
            (
                "a certificate from an untrusted CA",
                "rediss://drover:s3cret-pass@localhost:\(tlsPort)?ca=\(certificates.ca)&cert=\(dir)/rogue.pem&key=\(dir)/rogue.key"
            ),
            ("a server it cannot check", "rediss://drover:s3cret-pass@localhost:\(tlsPort)?\(client)"),
            ("plain text to the TLS port", "redis://drover:s3cret-pass@localhost:\(tlsPort)"),
        ]
        for (what, url) in refused {
            let redis = RedisClient(
                configuration: RedisConfiguration(url: try RedisURL(url), connectTimeout: .seconds(2), commandTimeout: .seconds(2)))
            await #expect(throws: RedisError.self, "\(what)") { _ = try await redis.send(RedisCommand("PING")) }
            await redis.close()
        }
        #expect(throws: RedisError.self) { try RedisURL("redis://localhost:6379?ca=/x.pem") }
        #expect(throws: RedisError.self) { try RedisURL("rediss://localhost:6379?cert=/x.pem") }
        #expect(throws: RedisError.self) { try RedisURL("rediss://localhost:6379?verify=no") }
    }
}
