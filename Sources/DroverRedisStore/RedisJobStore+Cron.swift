import DroverCore
import DroverRedis

// Cron schedules: kept per queue (`drover:{q}:cron:<name>`, indexed by next fire time in
// `drover:{q}:cron`) so that a firing, which submits into the queue, touches one slot; the
// registry `drover:{@}:cron` maps each name to its queue. The registry lives in another slot,
// so it is written around the schedule's call, in an order that a crash between the two
// leaves harmless: an entry is written before its schedule and removed after it, so every
// schedule is registered and an entry without a schedule reads as no schedule.
extension RedisJobStore {
    public func putSchedule(_ schedule: Schedule) async throws -> (schedule: Schedule, created: Bool) {
        let (cron, zone) = try schedule.validated(limits: configuration.limits)
        let queue = schedule.job.queue
        // The queue exists from now on, as after a submit, so maintenance walks it.
        try await redis.send(RedisCommand("SADD", keys.queues, queue))
        registeredQueues.withLock { _ = $0.insert(queue) }
        var moved = false
        if let old = try await scheduleQueue(schedule.name), old != queue {
            _ = try await run(edit(schedule.name, queue: old, .remove))
            moved = true
        }
        try await redis.send(RedisCommand("HSET", keys.cronSchedules, schedule.name, queue))
        let next = schedule.paused ? nil : cron.nextFire(after: try await serverTimeMs(), in: zone)
        let reply = try await run(edit(schedule.name, queue: queue, .put(ScheduleHash.encode(schedule), nextAt: next)))
        guard case .done(let fields, let created) = reply, let stored = ScheduleHash.decode(fields) else {
            throw RedisError.unexpectedReply("cron put of \(schedule.name) returned \(reply)")
        }
        return (stored, created && !moved)
    }

    public func schedules() async throws -> [Schedule] {
        let registry = try await cronRegistry()
        let names = registry.keys.sorted()
        let hashes = try await redis.pipeline(names.map { RedisCommand("HGETALL", keys.queue(registry[$0]!).cron($0)) })
        return hashes.compactMap { ScheduleHash.decode(JobHash.fields($0)) }
    }

    public func removeSchedule(named name: String) async throws {
        try Names.validateSchedule(name)
        guard let queue = try await scheduleQueue(name) else { throw JobError.unknownSchedule(name) }
        let removed = try await run(edit(name, queue: queue, .remove)) != .missing
        try await redis.send(RedisCommand("HDEL", keys.cronSchedules, name))
        guard removed else { throw JobError.unknownSchedule(name) }
    }

    public func setSchedulePaused(_ paused: Bool, named name: String) async throws -> Schedule {
        try Names.validateSchedule(name)
        guard let queue = try await scheduleQueue(name) else { throw JobError.unknownSchedule(name) }
        let action: CronEditFunction.Action
        if paused {
            action = .pause
        } else {
            let current = JobHash.fields(try await redis.send(RedisCommand("HGETALL", keys.queue(queue).cron(name))))
            guard let schedule = ScheduleHash.decode(current) else { throw JobError.unknownSchedule(name) }
            let (cron, zone) = try schedule.timing()
            action = .resume(nextAt: cron.nextFire(after: try await serverTimeMs(), in: zone))
        }
        guard case .done(let fields, _) = try await run(edit(name, queue: queue, action)), let schedule = ScheduleHash.decode(fields)
        else { throw JobError.unknownSchedule(name) }
        return schedule
    }

    public func fireDueSchedules() async throws -> ScheduleReport {
        let registry = try await cronRegistry()
        let queues = Set(registry.values).sorted()
        guard !queues.isEmpty else { return ScheduleReport() }
        let replies = try await redis.pipeline(
            [RedisCommand("TIME")] + queues.map { RedisCommand("ZRANGE", keys.queue($0).cron, 0, 99, "WITHSCORES") })
        let now = Self.milliseconds(replies[0])
        var report = ScheduleReport()
        var due: [(queue: String, name: String, at: Int64)] = []
        for (queue, reply) in zip(queues, replies.dropFirst()) {
            let flat = reply.array ?? []
            // A hundred due at once: more may be, so the promoter comes straight back.
            if flat.count == 200, let last = flat[199].int, last <= now { report.nextFireMs = now }
            for i in stride(from: 0, to: flat.count - 1, by: 2) {
                guard let name = flat[i].string, let at = flat[i + 1].int.map(Int64.init) else { continue }
                guard at <= now else {
                    report.nextFireMs = min(report.nextFireMs ?? at, at)
                    break
                }
                due.append((queue, name, at))
            }
        }
        // The due schedules' definitions, in one round trip.
        let definitions = try await redis.pipeline(due.map { RedisCommand("HGETALL", keys.queue($0.queue).cron($0.name)) })
        var calls: [FireFunction] = []
        for ((queue, name, at), reply) in zip(due, definitions) {
            guard let schedule = ScheduleHash.decode(JobHash.fields(reply)), let (cron, zone) = try? schedule.timing() else { continue }
            let firing = schedule.firing(due: at, now: now, cron: cron, zone: zone)
            var job = schedule.job
            job.idempotencyKey = firing.submitFor.map(schedule.idempotencyKey(firingAt:))
            let submit = SubmitFunction(
                queue: queue, jobs: firing.submitFor == nil ? [] : [SubmitFunction.Job(id: JobID(), request: job)],
                defaults: configuration.defaults, idempotencyWindow: configuration.retention.idempotencyWindow)
            calls.append(
                FireFunction(
                    submit: submit, schedule: name, fireAt: at, nextAt: firing.next, cronKey: keys.queue(queue).cron,
                    scheduleKey: keys.queue(queue).cron(name)))
            if let next = firing.next { report.nextFireMs = min(report.nextFireMs ?? next, next) }
        }
        for (call, outcome) in zip(calls, try await run(calls)) {
            switch outcome {
            case .fired(let id):
                report.fired += 1
                logger.info("schedule fired", metadata: ["schedule": "\(call.schedule)", "job": "\(id)", "queue": "\(call.queue)"])
            case .skipped:
                report.skipped += 1
                logger.warning("missed firing skipped", metadata: ["schedule": "\(call.schedule)", "due": "\(call.fireAt)"])
            case .taken:
                break
            }
        }
        report.nowMs = now
        return report
    }

    /// Every schedule's name → its queue.
    private func cronRegistry() async throws -> [String: String] {
        try await moveLegacyKeys()
        return JobHash.fields(try await redis.send(RedisCommand("HGETALL", keys.cronSchedules)))
    }

    /// The queue a schedule lives in, from the registry.
    private func scheduleQueue(_ name: String) async throws -> String? {
        try await moveLegacyKeys()
        return try await redis.send(RedisCommand("HGET", keys.cronSchedules, name)).string
    }

    private func edit(_ name: String, queue: String, _ action: CronEditFunction.Action) -> CronEditFunction {
        let q = keys.queue(queue)
        return CronEditFunction(
            queue: queue, name: name, action: action, cronKey: q.cron, scheduleKey: q.cron(name))
    }

    /// Redis's clock, in milliseconds.
    func serverTimeMs() async throws -> Int64 {
        Self.milliseconds(try await redis.send(RedisCommand("TIME")))
    }

    /// A `TIME` reply in milliseconds.
    static func milliseconds(_ reply: RESPValue) -> Int64 {
        let parts = (reply.array ?? []).map { Int64($0.string ?? "") ?? 0 }
        return parts.count == 2 ? parts[0] * 1000 + parts[1] / 1000 : 0
    }
}

/// A cron schedule as its hash holds it: every field text that `redis-cli` shows as it is.
enum ScheduleHash {
    static func encode(_ s: Schedule) -> [(String, String)] {
        let job = s.job
        var fields: [(String, String)] = [
            ("name", s.name), ("queue", job.queue), ("cron", s.cron), ("timeZone", s.timeZone),
            ("missedFirings", s.missedFirings.rawValue), ("type", job.type), ("payload", job.payload),
        ]
        if let v = job.maxAttempts { fields.append(("maxAttempts", String(v))) }
        if let v = job.backoff { fields.append(("backoff", JobHash.encode(v))) }
        if let v = job.timeoutMs { fields.append(("timeoutMs", String(v))) }
        if let v = job.priority { fields.append(("priority", String(v))) }
        if let unique = job.unique {
            fields.append(("unique", unique.key ?? "*"))
            if let ttl = unique.ttl { fields.append(("uniqueTtlMs", String(ttl.milliseconds))) }
        }
        if s.paused { fields.append(("paused", "1")) }
        return fields
    }

    static func decode(_ f: [String: String]) -> Schedule? {
        guard let name = f["name"], let queue = f["queue"], let cron = f["cron"], let type = f["type"] else { return nil }
        let unique = f["unique"].map { key in
            UniqueLock(key: key == "*" ? nil : key, ttl: f["uniqueTtlMs"].flatMap { Int64($0) }.map { .milliseconds($0) })
        }
        let job = JobRequest(
            queue: queue, type: type, payload: f["payload"] ?? "{}", maxAttempts: f["maxAttempts"].flatMap { Int($0) },
            backoff: f["backoff"].flatMap(JobHash.decodeBackoff), timeoutMs: f["timeoutMs"].flatMap { Int($0) },
            priority: f["priority"].flatMap { Int($0) }, unique: unique)
        return Schedule(
            name: name, cron: cron, timeZone: f["timeZone"] ?? "UTC", job: job,
            missedFirings: f["missedFirings"].flatMap(Schedule.MissedFirings.init(rawValue:)) ?? .skip, paused: f["paused"] != nil,
            nextFireAt: f["nextFireAt"].flatMap { Int64($0) }, lastFireAt: f["lastFireAt"].flatMap { Int64($0) },
            lastJobID: f["lastJobId"].flatMap(JobID.init), firings: f["firings"].flatMap { Int($0) } ?? 0)
    }
}
