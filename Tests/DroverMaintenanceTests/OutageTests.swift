import Drover
import DroverCore
import DroverRedis
import DroverRedisStore
import DroverTestSupport
import Foundation
import Testing

@testable import DroverMaintenance

@Suite struct OutageTests {
    @Test func theGateWaitsAWholeHeartbeatTimeoutOfReachability() {
        let start = ContinuousClock.now
        var gate = OutageGate(heartbeatTimeout: .seconds(10))
        #expect(!gate.mayReap(now: start))
        gate.succeeded(now: start)
        #expect(!gate.mayReap(now: start + .seconds(9)))
        #expect(gate.mayReap(now: start + .seconds(10)))
        gate.failed()
        #expect(!gate.mayReap(now: start + .seconds(30)))
        gate.succeeded(now: start + .seconds(31))
        gate.succeeded(now: start + .seconds(35))  // a later success does not restart the clock
        #expect(gate.mayReap(now: start + .seconds(41)))
    }

    /// Redis away for longer than the heartbeat timeout: nobody could heartbeat, so nobody is
    /// reaped when it returns; the jobs running through it finish where they run.
    @Test func aRedisOutageLongerThanTheHeartbeatTimeoutFailsNoJob() async throws {
        let server = try await RedisServer.start(arguments: ["--appendonly", "yes", "--appendfsync", "always"])
        defer { Task { await server.stop() } }
        // The reaper reconnects at once, the worker a little later (but well within the
        // heartbeat timeout, as with the defaults): without care the reaper would see every
        // heartbeat stale and reap a worker that is alive and well.
        var workerRedis = try RedisConfiguration(server.url)
        workerRedis.reconnectMaximumDelay = .milliseconds(300)
        let store = RedisJobStore(configuration: .init(redis: workerRedis), logger: quietLogger)
        defer { Task { await store.close() } }
        var reaperRedis = try RedisConfiguration(server.url)
        reaperRedis.reconnectMaximumDelay = .milliseconds(10)
        let reaperStore = RedisJobStore(configuration: .init(redis: reaperRedis), logger: quietLogger)
        defer { Task { await reaperStore.close() } }

        let gauge = Gauge()
        let release = Gate()
        let handlers = Gate.slowHandlers(gauge: gauge, release: release)
        let worker = Worker(
            store: store, handlers: handlers,
            configuration: .init(
                id: "survivor", concurrency: 3, heartbeatInterval: .milliseconds(100), fetchTimeout: .seconds(1), maintenance: nil),
            logger: quietLogger)
        let running = Task { try await worker.run() }
        let reaper = Task {
            try await Reaper(store: reaperStore, heartbeatTimeout: .seconds(1), interval: .milliseconds(20), logger: quietLogger).run()
        }
        defer { reaper.cancel() }

        let client = DroverClient(store: store)
        let ids = try await client.submit(batch: (0..<3).map { JobRequest(type: "slow", payload: "\($0)") }).map(\.id)
        await gauge.waitUntilRunning(3, or: .seconds(20))

        // Down for 2.5 s, with a heartbeat timeout of 1 s: time passing is the point here.
        let admin = try server.client()
        _ = try? await admin.send("SHUTDOWN")
        await admin.close()
        #expect(await server.process.waitForExit(timeout: .seconds(10)) != nil)
        try await Task.sleep(for: .milliseconds(2500))
        let restarted = try await RedisServer.restart(server)
        defer { Task { await restarted.stop() } }

        release.open()
        for (i, id) in ids.enumerated() {
            let job = try await client.wait(for: id, timeout: .seconds(30))
            #expect(job.state == .completed && job.result == "\(i)")
            #expect(job.attempt == 1)
            #expect(!job.history.contains { $0.error?.hasPrefix("worker lost") == true })
        }
        #expect(worker.staleReports == 0)
        worker.shutdown()
        try await running.value
    }
}
