import Drover
import DroverCore
import Foundation

/// The demo's second act, on a queue of its own: a delayed job, a cron schedule, a paused queue
/// in which a priority job overtakes the ones queued before it, and a running job cancelled.
extension Demo {
    static let flowQueue = "demo-flow"

    /// Returns whether everything ended as expected.
    func runFlowControl(_ client: DroverClient) async throws -> Bool {
        let queue = Self.flowQueue
        var allGood = true
        say("\nScheduling and flow control, on queue \(queue):")

        // A delayed job: SCHEDULED until due, then run; never early.
        let delayed = try await client.submit(
            JobRequest(queue: queue, type: "echo", payload: #"{"delayed":true}"#, start: .after(.seconds(2))))
        let ranLate = try await client.wait(for: delayed.id, timeout: .seconds(30))
        let due = (ranLate.history.first { $0.state == .scheduled }?.at ?? 0) + 2000
        let queuedAt = ranLate.history.first { $0.state == .queued }?.at ?? 0
        let delayOK = delayed.state == .scheduled && ranLate.state == .completed && queuedAt >= due
        allGood = allGood && delayOK
        say(
            "  • delayed 2 s: \(delayed.state.rawValue), then QUEUED \(queuedAt - due) ms after its due time, then \(ranLate.state.rawValue)"
        )

        // A cron schedule firing every second: the master and the three workers all run the
        // promoter, and each firing still submits one job.
        let (tick, _) = try await client.schedule(
            Schedule(name: "demo-tick", cron: "* * * * * *", job: JobRequest(queue: queue, type: "echo", payload: #"{"tick":true}"#)))
        _ = await poll(timeout: .seconds(20)) { ((try? await client.schedules())?.first { $0.name == tick.name }?.firings ?? 0) >= 3 }
        let last = try await client.schedules().first { $0.name == tick.name }?.lastJobID
        try await client.removeSchedule(named: tick.name)
        if let last { _ = try await client.wait(for: last, timeout: .seconds(30)) }
        let ticks = try await client.jobs(queue: queue, state: .completed, limit: 100).jobs.filter { $0.payload == #"{"tick":true}"# }
        let keys = Set(ticks.compactMap(\.idempotencyKey))
        let cronOK = ticks.count >= 3 && keys.count == ticks.count
        allGood = allGood && cronOK
        say("  • cron '* * * * * *', fired by the master and 3 workers: \(ticks.count) firings, each one job (\(keys.count) distinct keys)")

        // Paused: jobs wait; a priority job submitted last runs first once resumed.
        try await client.pause(queue: queue)
        let plain = try await client.submit(
            batch: (1...4).map { JobRequest(queue: queue, type: "echo", payload: #"{"plain":\#($0)}"#) }
        ).map(\.id)
        let urgent = try await client.submit(JobRequest(queue: queue, type: "echo", payload: #"{"urgent":true}"#, priority: 9)).id
        let waiting = try await client.queueCounts().first { $0.queue == queue }
        say("  • paused \(queue): \(waiting?.queued ?? 0) jobs QUEUED, none starts (paused: \(waiting?.paused ?? false))")
        try await client.resume(queue: queue)
        var startedAt: [JobID: Int64] = [:]
        for id in plain + [urgent] {
            let job = try await client.wait(for: id, timeout: .seconds(30))
            startedAt[id] = job.history.first { $0.state == .running }?.at
        }
        let overtook = plain.allSatisfy { (startedAt[$0] ?? 0) >= (startedAt[urgent] ?? .max) }
        allGood = allGood && overtook && waiting?.paused == true
        say("  • resumed: the priority-9 job, submitted last, \(overtook ? "started first" : "did NOT start first")")

        // Cancelled while running: its worker cancels the handler; the job ends CANCELLED.
        let long = try await client.submit(JobRequest(queue: queue, type: "sleep", payload: #"{"ms":60000}"#)).id
        _ = await poll(timeout: .seconds(20)) { (try? await client.job(long))?.state == .running }
        let asked = ContinuousClock.now
        let outcome = try await client.cancel(long)
        let cancelled = try await client.wait(for: long, timeout: .seconds(30))
        let took = ContinuousClock.now - asked
        allGood = allGood && cancelled.state == .cancelled
        say(
            "  • cancelled a running 60 s job: \(outcome == .cancelled ? "CANCELLED at once" : "its worker was told"), "
                + "\(cancelled.state.rawValue) \(Int(took.seconds * 1000)) ms later")
        return allGood
    }
}
