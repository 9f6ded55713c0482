import Drover
import DroverRedis
import DroverTestSupport
import Foundation
import Testing

/// A master holds a blocking-fetch connection to Redis for every remote worker that is
/// long-polling through it; a worker that is killed must not leave its connection behind.
@Suite struct FetchConnectionTests {
    /// The master's fetch connections, as Redis sees them.
    static func masterFetchConnections(_ redis: RedisClient) async throws -> Int {
        let list = try await redis.send("CLIENT", "LIST").string ?? ""
        return list.split(separator: "\n").filter { $0.contains("name=drover.master.fetch.") }.count
    }

    @Test func remoteWorkersKilledOverAndOverLeaveNoRedisConnectionInTheMaster() async throws {
        let cluster = try await ProcessCluster()
        defer { cluster.killProcesses() }
        let url = "http://127.0.0.1:\(cluster.httpPort)"
        var peak = 0
        for round in 0..<3 {
            let ids = (0..<4).map { "doomed-\(round)-\($0)" }
            for id in ids { try cluster.startRemoteWorker(id, via: url) }
            // Each is long-polling through the master: one fetch connection apiece.
            #expect(try await eventually { try await Self.masterFetchConnections(cluster.redis) >= ids.count })
            peak = max(peak, try await Self.masterFetchConnections(cluster.redis))
            for id in ids { cluster.worker(id)?.send(SIGKILL) }
        }
        // The master's reaper finds each worker lost after its heartbeat timeout (1 s here)
        // and drops its connections; the 12 workers leave none.
        #expect(peak >= 4)
        #expect(try await eventually(timeout: .seconds(30)) { try await Self.masterFetchConnections(cluster.redis) == 0 })
        await cluster.stop()
    }
}
