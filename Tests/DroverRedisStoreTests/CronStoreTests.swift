import DroverCore
import DroverRedis
import DroverTestSupport
import Foundation
import Testing

@testable import DroverRedisStore

/// Cron schedules as Redis holds them, and firings missed while nothing ran.
@Suite struct CronStoreTests {
    static func schedule(_ name: String, missed: Schedule.MissedFirings) -> Schedule {
        // Yearly: its own next firing cannot come due while the test runs.
        Schedule(name: name, cron: "@yearly", job: JobRequest(queue: "cron", type: "tick"), missedFirings: missed)
    }

    @Test func aScheduleIsReadableInRedisAndItsFiringTouchesOnlyItsQueuesKeys() async throws {
        let f = try await StoreFixture.make(.redis)
        defer { Task { await f.tearDown() } }
        let store = try #require(f.redisStore)
        let redis = try #require(try f.server?.client())
        defer { Task { await redis.close() } }
        let (schedule, _) = try await store.putSchedule(
            Schedule(
                name: "report", cron: "30 8 * * MON-FRI", timeZone: "Europe/Berlin",
                job: JobRequest(queue: "cron", type: "report", payload: #"{"all":true}"#, priority: 2)))
        #expect(try await redis.send("HGET", "drover:{@}:cron", "report").string == "cron")
        let fields = JobHash.fields(try await redis.send("HGETALL", "drover:{cron}:cron:report"))
        #expect(fields["cron"] == "30 8 * * MON-FRI" && fields["timeZone"] == "Europe/Berlin" && fields["payload"] == #"{"all":true}"#)
        #expect(fields["priority"] == "2" && fields["nextFireAt"] == String(schedule.nextFireAt!))
        #expect(try await redis.send("ZSCORE", "drover:{cron}:cron", "report").int == Int(schedule.nextFireAt!))
        // Every key of a firing carries the queue's hash tag.
        let keys = FireFunction(
            submit: SubmitFunction(queue: "cron", jobs: [], defaults: .standard, idempotencyWindow: .seconds(1)), schedule: "report",
            fireAt: 0, nextAt: nil, cronKey: KeySchema().queue("cron").cron, scheduleKey: KeySchema().queue("cron").cron("report")
        ).call(FunctionContext(keys: KeySchema(), historyLimit: 100)).keys.map { "\($0)" }
        #expect(!keys.isEmpty && keys.allSatisfy { $0.hasPrefix("drover:{cron}:") }, "\(keys)")
        try await store.removeSchedule(named: "report")
        #expect(try await redis.send("EXISTS", "drover:{cron}:cron:report", "drover:{cron}:cron").int == 0)
        #expect(try await redis.send("HLEN", "drover:{@}:cron").int == 0)
    }

    /// A firing an hour old, as if every master and worker had been down since.
    static func missAnHour(_ name: String, _ redis: RedisClient, store: RedisJobStore) async throws -> Int64 {
        let old = try await store.serverTimeMs() / 60_000 * 60_000 - 3_600_000
        _ = try await redis.send("ZADD", "drover:{cron}:cron", old, name)
        return old
    }

    @Test func aMissedFiringIsSkippedOrRunOnceByItsPolicy() async throws {
        let f = try await StoreFixture.make(.redis)
        defer { Task { await f.tearDown() } }
        let store = try #require(f.redisStore)
        let redis = try #require(try f.server?.client())
        defer { Task { await redis.close() } }
        _ = try await store.putSchedule(Self.schedule("skipper", missed: .skip))
        _ = try await store.putSchedule(Self.schedule("catcher", missed: .once))
        _ = try await Self.missAnHour("skipper", redis, store: store)
        let caught = try await Self.missAnHour("catcher", redis, store: store)

        let report = try await store.fireDueSchedules()
        #expect(report.fired == 1 && report.skipped == 1)
        let now = try await store.serverTimeMs()
        let schedules = try await store.schedules()
        // Both go on from now, not from the missed time.
        #expect(schedules.allSatisfy { ($0.nextFireAt ?? 0) > now && ($0.nextFireAt ?? 0) <= now + 366 * 86_400_000 }, "\(schedules)")
        let catcher = try #require(schedules.first { $0.name == "catcher" })
        let skipper = try #require(schedules.first { $0.name == "skipper" })
        #expect(catcher.firings == 1 && catcher.lastFireAt == caught && skipper.firings == 0 && skipper.lastFireAt == nil)
        let jobs = try await store.jobs(queue: "cron", state: .queued, limit: 10)
        #expect(jobs.map(\.idempotencyKey) == ["cron:catcher:\(caught)"])
        #expect(try await redis.send("HGET", "drover:{cron}:cron:skipper", "skipped").string == "1")
        // Nothing more is due.
        #expect(try await store.fireDueSchedules().fired == 0)
    }
}
