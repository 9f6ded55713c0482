import DroverCore
import DroverTestSupport
import Foundation
import Testing

// Cron schedules, on every store.
extension JobStoreContractTests {
    static func everySecond(_ name: String = "tick", queue: String = "cron", paused: Bool = false) -> Schedule {
        Schedule(
            name: name, cron: "* * * * * *", job: JobRequest(queue: queue, type: "tick", payload: #"{"n":1}"#, maxAttempts: 7, priority: 3),
            paused: paused)
    }

    @Test(arguments: ContractKind.allCases)
    func schedulesAreAddedListedReplacedPausedResumedAndRemoved(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let nightly = Schedule(
            name: "nightly", cron: "0 3 * * *", timeZone: "Europe/Berlin", job: JobRequest(queue: "reports", type: "report"),
            missedFirings: .once)
        let (added, created) = try await f.store.putSchedule(nightly)
        #expect(created && added.name == "nightly" && added.missedFirings == .once && added.job.queue == "reports")
        let next = try #require(added.nextFireAt)
        // 03:00 in Berlin is 01:00 or 02:00 UTC, within the coming day.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(next > now && next <= now + 86_400_000 && [1, 2].contains((next / 3_600_000) % 24), "\(next)")
        #expect(try await f.store.queues().contains("reports"))

        var replaced = nightly
        replaced.cron = "0 4 * * *"
        let (again, createdAgain) = try await f.store.putSchedule(replaced)
        #expect(!createdAgain && again.cron == "0 4 * * *")
        _ = try await f.store.putSchedule(Self.everySecond(paused: true))
        #expect(try await f.store.schedules().map(\.name) == ["nightly", "tick"])
        #expect(try await f.store.schedules().last?.nextFireAt == nil)

        let paused = try await f.store.setSchedulePaused(true, named: "nightly")
        #expect(paused.paused && paused.nextFireAt == nil)
        let resumed = try await f.store.setSchedulePaused(false, named: "nightly")
        #expect(!resumed.paused && resumed.nextFireAt != nil)
        try await f.store.removeSchedule(named: "nightly")
        #expect(try await f.store.schedules().map(\.name) == ["tick"])
        await #expect(throws: JobError.unknownSchedule("nightly")) { try await f.store.removeSchedule(named: "nightly") }
        await #expect(throws: JobError.unknownSchedule("nope")) { try await f.store.setSchedulePaused(true, named: "nope") }
    }

    @Test(arguments: ContractKind.allCases)
    func badSchedulesAreRefusedAndNothingIsWritten(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let job = JobRequest(type: "t")
        for bad in [
            Schedule(name: "a", cron: "61 * * * *", job: job), Schedule(name: "a", cron: "0 0 30 2 *", job: job),
            Schedule(name: "a", cron: "* * * * *", timeZone: "Mars/Olympus", job: job),
            Schedule(name: "bad name", cron: "* * * * *", job: job),
            Schedule(name: "a", cron: "* * * * *", job: JobRequest(type: "t", idempotencyKey: "k")),
            Schedule(name: "a", cron: "* * * * *", job: JobRequest(type: "t", start: .after(.seconds(5)))),
            Schedule(name: "a", cron: "* * * * *", job: JobRequest(type: "t", payload: "{not json")),
            Schedule(name: "a", cron: "* * * * *", job: JobRequest(type: "t", priority: 12)),
        ] {
            await #expect(throws: JobError.self, "\(bad)") { try await f.store.putSchedule(bad) }
        }
        #expect(try await f.store.schedules().isEmpty)
        #expect(try await f.store.queues().isEmpty)
    }

    @Test(arguments: ContractKind.allCases)
    func aDueScheduleFiresOnceForEachTimeWithItsOwnIdempotencyKey(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let (schedule, _) = try await f.store.putSchedule(Self.everySecond())
        let first = try #require(schedule.nextFireAt)
        // At each due time (read from the store: that time coming is the subject), fire twice at
        // once, as two masters would: the second finds nothing due.
        var fired = 0
        for _ in 0..<10 where fired < 2 {
            let due = try #require(try await f.store.schedules().first?.nextFireAt)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            try await Task.sleep(for: .milliseconds(max(0, due - now) + 5))
            async let a = f.maintenance.fireDueSchedules()
            async let b = f.maintenance.fireDueSchedules()
            let (ra, rb) = try await (a, b)
            fired += ra.fired + rb.fired
        }
        #expect(fired >= 2)
        let stored = try #require(try await f.store.schedules().first)
        #expect(stored.firings == fired && stored.lastFireAt != nil && stored.nextFireAt! > stored.lastFireAt!)
        let jobs = try await f.store.jobs(queue: "cron", state: .queued, limit: 10)
        #expect(jobs.count == fired)
        // One job per fire time, each carrying the template and a key naming its time.
        let keys = Set(jobs.compactMap(\.idempotencyKey))
        // (A loaded machine may sleep past the first due time; that firing is then skipped.)
        let times = keys.compactMap { $0.hasPrefix("cron:tick:") ? Int64($0.dropFirst("cron:tick:".count)) : nil }
        #expect(keys.count == fired && times.count == fired && times.allSatisfy { $0 >= first }, "\(keys)")
        #expect(keys.contains("cron:tick:\(stored.lastFireAt!)"), "\(keys)")
        #expect(jobs.allSatisfy { $0.type == "tick" && $0.payload == #"{"n":1}"# && $0.maxAttempts == 7 && $0.priority == 3 })
        #expect(jobs.map(\.id).contains(stored.lastJobID!))
        // A paused schedule fires nothing: only time passing its next second can show it.
        _ = try await f.store.setSchedulePaused(true, named: "tick")
        try await Task.sleep(for: .milliseconds(1100))
        #expect(try await f.maintenance.fireDueSchedules().fired == 0)
    }
}
