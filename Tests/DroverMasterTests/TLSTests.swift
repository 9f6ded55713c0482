import Drover
import DroverCore
import DroverMaster
import DroverRedis
import DroverRemote
import DroverTLS
import DroverTestSupport
import Foundation
import Testing

/// TLS on the master's two doors, mutual TLS naming the worker, and worker identities pinned by
/// certificates and by tokens. Certificates are made with openssl for the test run.
@Suite struct TLSTests {
    @Test(arguments: ["http", "tcp"])
    func bothDoorsServeTLS(_ scheme: String) async throws {
        let certificates = try await TestCertificates.shared()
        let m = try await MasterFixture.start(tls: certificates.server)
        defer { Task { await m.stop() } }
        let url = scheme == "http" ? m.httpURL : m.tcpURL
        let (worker, workerStore) = try m.remoteWorker(id: "tls-\(scheme)", via: url, tls: certificates.anonymousClient)
        let running = start(worker)
        let clientStore = try RemoteJobStore(masterURL: url, tls: certificates.anonymousClient)
        let client = DroverClient(store: clientStore)
        let id = try await client.submit(JobRequest(type: "echo", payload: #"{"over":"tls"}"#)).id
        #expect(try await client.result(of: id, as: [String: String].self, timeout: .seconds(30)) == ["over": "tls"])

        // Plain text to a TLS door gets nowhere, and neither does a client that cannot check
        // the master's certificate (it trusts only the system's roots).
        let plain = try RemoteJobStore(masterURL: scheme == "http" ? "http://127.0.0.1:\(m.httpPort)" : "tcp://127.0.0.1:\(m.tcpPort)")
        await #expect(throws: RemoteError.self) { try await plain.queueCounts() }
        let trusting = try RemoteJobStore(masterURL: url)
        await #expect(throws: RemoteError.self) { try await trusting.queueCounts() }

        worker.shutdown()
        try await running.value
        for store in [workerStore, clientStore, plain, trusting] { await store.close() }
    }

    @Test(arguments: ["http", "tcp"])
    func mutualTLSNamesTheWorkerAndOnlyItMayReport(_ scheme: String) async throws {
        let certificates = try await TestCertificates.shared()
        // A long heartbeat timeout: the test's claim below is not backed by heartbeats.
        let m = try await MasterFixture.start(heartbeatTimeout: .seconds(60), tls: certificates.serverRequiringClients)
        defer { Task { await m.stop() } }
        let url = scheme == "http" ? m.httpURL : m.tcpURL

        // No certificate, or one from a CA the master does not trust: not even a handshake.
        for files in [certificates.anonymousClient, certificates.roguesClient] {
            let stranger = try RemoteJobStore(masterURL: url, tls: files)
            await #expect(throws: RemoteError.self) { try await stranger.queueCounts() }
            await stranger.close()
        }

        let a = try RemoteJobStore(masterURL: url, tls: certificates.client("worker-a"))
        let b = try RemoteJobStore(masterURL: url, tls: certificates.client("worker-b"))
        defer {
            Task {
                await a.close()
                await b.close()
            }
        }
        // Client operations need a trusted certificate, whatever its name.
        let submitted = try await b.submit([JobRequest(type: "noop")])[0]
        // worker-a may act as "w1@worker-a" but worker-b may not.
        await #expect(
            throws: RemoteError.api(
                .forbidden("identity 'worker-b' may act only as worker 'worker-b' or '…@worker-b', not 'w1@worker-a'"))
        ) {
            _ = try await b.claim(queues: ["default"], worker: "w1@worker-a", max: 1, start: true)
        }
        let claimed = try #require(try await a.claim(queues: ["default"], worker: "w1@worker-a", max: 1, start: true).first)
        #expect(claimed.id == submitted.id)
        let report = CompletionReport(lease: claimed.lease, result: "1")
        // worker-b can neither report as worker-a nor report worker-a's job as itself.
        await #expect(throws: RemoteError.self) { _ = try await b.complete([report], worker: "w1@worker-a") }
        #expect(try await b.complete([report], worker: "w1@worker-b") == [.stale(current: .running)])
        #expect(try await a.complete([report], worker: "w1@worker-a") == [.applied(.completed)])
        #expect(try await m.store.job(submitted.id, queue: nil)?.state == .completed)

        // A real worker with a certificate runs jobs end to end.
        let (worker, workerStore) = try m.remoteWorker(id: "fleet@worker-a", via: url, tls: certificates.client("worker-a"))
        let running = start(worker)
        let id = try await DroverClient(store: b).submit(JobRequest(type: "echo", payload: "7")).id
        #expect(try await DroverClient(store: b).result(of: id, as: Int.self, timeout: .seconds(30)) == 7)
        worker.shutdown()
        try await running.value
        await workerStore.close()
    }

    @Test(arguments: ["http", "tcp"])
    func aTokenIdentityPinsWorkerIDs(_ scheme: String) async throws {
        let token = "fleet-one-token-0123456789"
        let auth = TokenAuthenticator(entries: [
            TokenAuthenticator.Entry(role: .worker, token: token, identity: "fleet-1"),
            TokenAuthenticator.Entry(role: .client, token: "client-token-0123456789"),
        ])
        let m = try await MasterFixture.start(auth: auth)
        defer { Task { await m.stop() } }
        let url = scheme == "http" ? m.httpURL : m.tcpURL
        let store = try RemoteJobStore(masterURL: url, token: token)
        defer { Task { await store.close() } }
        for id in ["fleet-2", "x@fleet-2", "fleet-1x", "fleet-1@other"] {
            await #expect(throws: RemoteError.self, "worker id \(id)") {
                try await store.heartbeat(
                    WorkerInfo(id: id, host: "h", pid: 1, queues: ["default"], concurrency: 1, inFlight: 0, startedAt: 0, version: "t"))
            }
        }
        for id in ["fleet-1", "a@fleet-1"] {
            try await store.heartbeat(
                WorkerInfo(id: id, host: "h", pid: 1, queues: ["default"], concurrency: 1, inFlight: 0, startedAt: 0, version: "t"))
        }
        #expect(Set(try await m.store.workers().map(\.id)) == ["fleet-1", "a@fleet-1"])
    }

    @Test func authFilesTakeAnIdentity() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("drover-auth-\(UUID().uuidString.prefix(6))").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "worker bbbbbbbbbbbbbbbbbbbb fleet-1\nclient cccccccccccccccccccc\n".write(toFile: file, atomically: true, encoding: .utf8)
        let parsed = try TokenAuthenticator(contentsOf: file)
        #expect(parsed.caller(for: "bbbbbbbbbbbbbbbbbbbb") == Caller(role: .worker, identities: ["fleet-1"]))
        #expect(parsed.caller(for: "cccccccccccccccccccc") == Caller(role: .client))
        for bad in ["worker bbbbbbbbbbbbbbbbbbbb fleet@1\n", "worker bbbbbbbbbbbbbbbbbbbb a b\n"] {
            try bad.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(throws: AuthFileError.self) { try TokenAuthenticator(contentsOf: file) }
        }
    }

    @Test func missingOrMismatchedFilesAreClearErrors() async throws {
        let certificates = try await TestCertificates.shared()
        #expect(throws: TLSFilesError.self) { try TLSFiles(certificate: certificates.directory + "/server.pem").serverConfiguration() }
        #expect(throws: TLSFilesError.self) { try TLSFiles(certificateAuthority: "/nonexistent/ca.pem").clientConfiguration() }
        #expect(throws: TLSFilesError.self) { try TLSFiles(certificate: "/nonexistent.pem", key: "/nonexistent.key").serverConfiguration() }
        var master = Master.Configuration()
        master.tls = TLSFiles(certificate: "/nonexistent.pem", key: "/nonexistent.key")
        #expect(throws: TLSFilesError.self) { _ = try Master(store: InMemoryJobStore(), configuration: master).services() }
    }
}
