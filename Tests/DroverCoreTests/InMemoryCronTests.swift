import DroverCore
import Synchronization
import Testing

/// The in-memory store's schedules on a clock the test moves: firings on time, firings missed
/// while nothing ran, under each policy.
@Suite struct InMemoryCronTests {
    final class Clock: Sendable {
        let ms = Mutex<Int64>(RFC3339.epochMs("2026-12-04T10:00:00Z")!)
        func advance(_ by: Int64) { ms.withLock { $0 += by } }
        var now: Int64 { ms.withLock { $0 } }
    }

    @Test(arguments: Schedule.MissedFirings.allCases)
    func firingsOnTimeAreMadeEachAndMissedOnesFollowThePolicy(_ policy: Schedule.MissedFirings) async throws {
        let clock = Clock()
        let store = InMemoryJobStore(clock: { clock.now })
        let minute: Int64 = 60_000
        let (schedule, _) = try await store.putSchedule(
            Schedule(name: "m", cron: "* * * * *", job: JobRequest(queue: "q", type: "t"), missedFirings: policy))
        #expect(schedule.nextFireAt == clock.now + minute)

        // On time, a little late: each firing is made, for its own time.
        clock.advance(minute + 2_000)
        #expect(try await store.fireDueSchedules().fired == 1)
        #expect(try await store.fireDueSchedules().fired == 0)
        // Down for an hour: one firing at most, by the policy, and the schedule goes on from now.
        clock.advance(60 * minute)
        let report = try await store.fireDueSchedules()
        #expect(report.fired == (policy == .once ? 1 : 0) && report.skipped == (policy == .skip ? 1 : 0))
        let after = try #require(try await store.schedules().first)
        #expect(after.nextFireAt! > clock.now && after.nextFireAt! <= clock.now + minute)
        let keys = try await store.jobs(queue: "q", state: .queued, limit: 10).compactMap(\.idempotencyKey)
        let first = schedule.nextFireAt!
        #expect(keys.sorted() == (policy == .once ? ["cron:m:\(first)", "cron:m:\(first + minute)"] : ["cron:m:\(first)"]))
    }
}
