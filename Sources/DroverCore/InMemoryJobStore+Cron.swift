// Cron schedules, with the semantics of the Redis store's (see `Schedule`).
extension InMemoryJobStore {
    public func putSchedule(_ schedule: Schedule) async throws -> (schedule: Schedule, created: Bool) {
        let (cron, zone) = try schedule.validated(limits: limits)
        var stored = schedule
        let old = cronSchedules[schedule.name]
        stored.firings = old?.firings ?? 0
        stored.lastFireAt = old?.lastFireAt
        stored.lastJobID = old?.lastJobID
        stored.nextFireAt = schedule.paused ? nil : cron.nextFire(after: clock(), in: zone)
        cronSchedules[schedule.name] = stored
        if queueState[schedule.job.queue] == nil { queueState[schedule.job.queue] = QueueState() }
        dueTimesChanged.fire()
        return (stored, old == nil)
    }

    public func schedules() async throws -> [Schedule] {
        cronSchedules.keys.sorted().map { cronSchedules[$0]! }
    }

    public func removeSchedule(named name: String) async throws {
        try Names.validateSchedule(name)
        guard cronSchedules.removeValue(forKey: name) != nil else { throw JobError.unknownSchedule(name) }
    }

    public func setSchedulePaused(_ paused: Bool, named name: String) async throws -> Schedule {
        try Names.validateSchedule(name)
        guard var schedule = cronSchedules[name] else { throw JobError.unknownSchedule(name) }
        schedule.paused = paused
        if paused {
            schedule.nextFireAt = nil
        } else {
            let (cron, zone) = try schedule.timing()
            schedule.nextFireAt = cron.nextFire(after: clock(), in: zone)
            dueTimesChanged.fire()
        }
        cronSchedules[name] = schedule
        return schedule
    }

    public func fireDueSchedules() async throws -> ScheduleReport {
        let now = clock()
        var report = ScheduleReport(nowMs: now)
        for name in cronSchedules.keys.sorted() {
            guard var schedule = cronSchedules[name], let due = schedule.nextFireAt else { continue }
            guard due <= now else {
                report.nextFireMs = min(report.nextFireMs ?? due, due)
                continue
            }
            guard let (cron, zone) = try? schedule.timing() else { continue }
            let firing = schedule.firing(due: due, now: now, cron: cron, zone: zone)
            if let fireAt = firing.submitFor {
                var job = schedule.job
                job.idempotencyKey = schedule.idempotencyKey(firingAt: fireAt)
                schedule.lastJobID = try await submit([job])[0].id
                schedule.lastFireAt = fireAt
                schedule.firings += 1
                report.fired += 1
            } else {
                report.skipped += 1
            }
            schedule.nextFireAt = firing.next
            cronSchedules[name] = schedule
            if let next = firing.next { report.nextFireMs = min(report.nextFireMs ?? next, next) }
        }
        return report
    }
}
