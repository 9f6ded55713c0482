import Drover
import DroverRedis
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A one-second cron schedule fired by several real `drover master` processes at once, for
/// a minute: every second gets exactly one job.
@Suite struct CronProcessTests {
    @Test(arguments: [2, 3])
    func aOneSecondScheduleFiresExactlyOnceASecondWhateverTheNumberOfMasters(_ count: Int) async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        var masters: [ChildMaster] = []
        defer { for master in masters { master.process.send(SIGKILL) } }
        for n in 1...count { masters.append(try await ChildMaster.start(server, name: "master-\(n)")) }
        let store = RedisJobStore(configuration: .init(redis: try RedisConfiguration(server.url)), logger: quietLogger)
        defer { Task { await store.close() } }

        let (schedule, _) = try await store.putSchedule(
            Schedule(name: "tick", cron: "* * * * * *", job: JobRequest(queue: "cron", type: "noop")))
        let first = try #require(schedule.nextFireAt)
        // Time passing is what this test is about: a minute of firings, then a pause.
        try await Task.sleep(for: .seconds(61))
        _ = try await store.setSchedulePaused(true, named: "tick")
        let stored = try #require(try await store.schedules().first)

        let jobs = try await store.jobs(queue: "cron", state: .queued, limit: 1000)
        let fireTimes = jobs.compactMap { $0.idempotencyKey?.split(separator: ":").last.flatMap { Int64($0) } }.sorted()
        #expect(fireTimes.count == jobs.count && Set(fireTimes).count == jobs.count, "a firing made twice")
        #expect(jobs.count == stored.firings)
        #expect(fireTimes.first == first)
        // Every second from the first on, none missing.
        #expect(zip(fireTimes, fireTimes.dropFirst()).allSatisfy { $1 - $0 == 1000 }, "\(fireTimes)")
        #expect(fireTimes.count >= 59, "\(fireTimes.count) firings in a minute")

        // How late each firing's job was submitted, by Redis's clock, and who made them.
        let lateness = jobs.compactMap { job -> Int64? in
            guard let key = job.idempotencyKey, let due = key.split(separator: ":").last.flatMap({ Int64($0) }) else { return nil }
            return job.timestamps[JobState.submitted.timestampField].map { $0 - due }
        }.sorted()
        let byMaster = masters.map { master in
            ((try? String(contentsOfFile: master.logPath, encoding: .utf8)) ?? "").components(separatedBy: "schedule fired").count - 1
        }
        print(
            "cron with \(count) masters: \(fireTimes.count) firings, each once; lateness p50 \(lateness[lateness.count / 2]) ms,"
                + " p99 \(lateness[lateness.count * 99 / 100]) ms, max \(lateness.last!) ms; firings made per master \(byMaster)")
        #expect(byMaster.reduce(0, +) == jobs.count)
    }
}
