import AsyncHTTPClient
import Drover
import DroverCore
import DroverRemote
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Real `drover master` and `drover worker` processes, killed for real.
@Suite struct MasterProcessTests {
    func startWorker(_ arguments: [String], id: String, log: String) throws -> ChildProcess {
        try ChildProcess(
            executable: try droverExecutable(),
            arguments: ["worker", "--id", id, "--heartbeat-interval", "0.2", "--log-level", "info"] + arguments, logPath: log)
    }

    @Test func twoMastersOnOneRedisOneKilledMidRunLoseNothing() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let a = try await ChildMaster.start(server, name: "master-a")
        defer { a.process.send(SIGKILL) }
        let b = try await ChildMaster.start(server, name: "master-b")
        defer { b.process.send(SIGKILL) }
        // One worker through master A (it loses its master), one direct worker.
        let remote = try startWorker(["--master", a.tcp, "--concurrency", "4"], id: "through-a", log: server.directory + "/through-a.log")
        defer { remote.send(SIGKILL) }
        let direct = try startWorker(
            ["--redis", server.url, "--no-maintenance", "--concurrency", "4"], id: "direct", log: server.directory + "/direct.log")
        defer { direct.send(SIGKILL) }

        let viaA = try RemoteJobStore(masterURL: a.http)
        let viaB = try RemoteJobStore(masterURL: b.http)
        defer {
            Task {
                await viaA.close()
                await viaB.close()
            }
        }
        var ids = try await viaA.submit((0..<40).map { _ in JobRequest(type: "sleep", payload: #"{"ms":50}"#, maxAttempts: 5) }).map(\.id)
        #expect(try await eventually { try await viaB.queueCounts().first.map { $0.completed > 4 } ?? false })

        a.process.send(SIGKILL)
        #expect(await a.process.waitForExit(timeout: .seconds(10)) != nil)
        ids += try await viaB.submit((0..<40).map { _ in JobRequest(type: "sleep", payload: #"{"ms":10}"#, maxAttempts: 5) }).map(\.id)

        let client = DroverClient(store: viaB)
        for id in ids {
            let job = try await client.wait(for: id, timeout: .seconds(60))
            #expect(job.state == .completed, "\(id) is \(job.state): \(job.error ?? "")")
        }
        let counts = try #require(try await viaB.queueCounts().first)
        #expect(counts.completed == 80 && counts.running == 0 && counts.assigned == 0 && counts.queued == 0)

        // SIGTERM stops a master cleanly.
        b.process.send(SIGTERM)
        #expect(await b.process.waitForExit(timeout: .seconds(20)) == 0, "\(b.process.output().suffix(1000))")
    }

    @Test func aRemoteWorkerKilledWithSIGKILLHasItsJobsReassigned() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let master = try await ChildMaster.start(server, name: "master")
        defer { master.process.send(SIGKILL) }
        let victim = try startWorker(
            ["--master", master.http, "--concurrency", "3"], id: "remote-victim", log: server.directory + "/victim.log")
        defer { victim.send(SIGKILL) }
        let store = try RemoteJobStore(masterURL: master.http)
        defer { Task { await store.close() } }
        // Attempts to spare: on a loaded machine the rescuer's own heartbeats can come later than
        // the master's 1 s timeout, and each such reap costs an attempt.
        let ids = try await store.submit(
            (0..<3).map { _ in JobRequest(type: "sleep", payload: #"{"ms":3600000}"#, maxAttempts: 10, backoff: .fixed(ms: 100)) }
        ).map(\.id)
        #expect(try await eventually { try await store.queueCounts().first?.running == 3 }, "\(victim.output().suffix(1000))")
        victim.send(SIGKILL)
        #expect(await victim.waitForExit(timeout: .seconds(10)) != nil)

        // A second remote worker whose "sleep" is instant picks the jobs up after the reaper.
        var handlers = JobHandlers()
        handlers.registerRaw("sleep") { _, _ in #""rescued""# }
        let rescuer = Worker(
            store: try RemoteJobStore(masterURL: master.tcp), handlers: handlers,
            configuration: .init(id: "rescuer", heartbeatInterval: .milliseconds(200), fetchTimeout: .seconds(1), maintenance: nil),
            logger: quietLogger)
        let running = Task { try await rescuer.run() }
        let client = DroverClient(store: store)
        for id in ids {
            let job = try await client.wait(for: id, timeout: .seconds(60))
            #expect(job.state == .completed && job.result == #""rescued""#)
            #expect(job.history.contains { $0.state == .failed && $0.error?.hasPrefix("worker lost: remote-victim") == true })
        }
        rescuer.shutdown()
        try await running.value
    }
}
