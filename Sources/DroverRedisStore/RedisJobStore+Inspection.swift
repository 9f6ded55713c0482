import DroverCore
import DroverRedis

// Reading jobs, their queues and their workers.
extension RedisJobStore {
    public func job(_ id: JobID, queue: String?) async throws -> Job? {
        guard let queue = try await resolveQueue(of: id, hint: queue) else { return nil }
        return try JobHash.decodeJob(try await redis.send(RedisCommand("HGETALL", keys.queue(queue).job(id))))
    }

    /// Finds the queue a job lives in: the hint if the job is there, else every known queue
    /// in one pipeline. Ids do not name their queue, and the cost is paid only on lookups.
    func resolveQueue(of id: JobID, hint: String?) async throws -> String? {
        if let hint {
            try Names.validateQueue(hint)
            return hint
        }
        let queues = try await self.queues()
        guard !queues.isEmpty else { return nil }
        let replies = try await redis.pipeline(queues.map { RedisCommand("EXISTS", keys.queue($0).job(id)) })
        return zip(queues, replies).first { $0.1.int == 1 }?.0
    }

    public func waitUntilFinished(_ id: JobID, queue: String?, timeout: Duration) async throws -> Job? {
        guard let queue = try await resolveQueue(of: id, hint: queue) else { return nil }
        return try await waiters.wait(for: id, timeout: timeout) {
            // Subscribed before reading, so a job finishing in between is not missed.
            try? await self.subscriber.connect()
            return try await self.job(id, queue: queue)
        }
    }

    public func queues() async throws -> [String] {
        let reply = try await redis.send(RedisCommand("SMEMBERS", keys.queues))
        return (reply.array ?? []).compactMap(\.string).sorted()
    }

    public func queueCounts() async throws -> [QueueCounts] {
        let queues = try await self.queues()
        let gauges = [JobState.assigned.rawValue, JobState.running.rawValue, JobCounter.staleReports.rawValue, Self.wakeMarkers]
        var commands: [RedisCommand] = []
        for queue in queues {
            let q = keys.queue(queue)
            commands += [
                RedisCommand("LLEN", q.queued), RedisCommand("HMGET", [q.stats] + gauges), RedisCommand("ZCARD", q.retry),
                RedisCommand("ZCARD", q.completed), RedisCommand("ZCARD", q.dead), RedisCommand("ZCARD", q.scheduled),
                RedisCommand("ZCARD", q.cancelled), RedisCommand("LLEN", q.paused), RedisCommand("HEXISTS", q.config, "paused"),
                RedisCommand("ZCARD", q.prioritized), RedisCommand("HMGET", q.limits, "rate", "ratePeriodMs", "concurrency"),
                RedisCommand("ZCARD", q.waiting),
            ]
        }
        let replies = try await redis.pipeline(commands)
        let perQueue = 12
        return queues.enumerated().map { i, queue in
            let r = Array(replies[i * perQueue..<(i + 1) * perQueue])
            let stats = r[1].array ?? []
            func stat(_ j: Int) -> Int { j < stats.count ? stats[j].int ?? 0 : 0 }
            return QueueCounts(
                queue: queue, scheduled: r[5].int ?? 0, queued: max(0, (r[0].int ?? 0) + (r[7].int ?? 0) - stat(3)) + (r[9].int ?? 0),
                assigned: stat(0), running: stat(1),
                retryQueued: r[2].int ?? 0, completed: r[3].int ?? 0, deadLetter: r[4].int ?? 0, cancelled: r[6].int ?? 0,
                staleReports: stat(2), paused: r[8].int == 1, limits: Self.limits(r[10]), waiting: r[11].int ?? 0)
        }
    }

    /// A queue's limits from `HMGET limits rate ratePeriodMs concurrency`.
    static func limits(_ reply: RESPValue) -> QueueLimits? {
        let values = (reply.array ?? []).map(\.int)
        guard values.count == 3 else { return nil }
        let limits = QueueLimits(
            rate: values[0].map { QueueLimits.Rate(count: $0, periodMs: values[1] ?? 1000) }, concurrency: values[2])
        return limits.isEmpty ? nil : limits
    }

    /// The stats field counting wake-ups in the ready line (see the prelude's `MARKER`).
    static let wakeMarkers = "wakeMarkers"

    public func statistics() async throws -> [String: [String: Int]] {
        let queues = try await self.queues()
        let replies = try await redis.pipeline(queues.map { RedisCommand("HGETALL", keys.queue($0).stats) })
        var result: [String: [String: Int]] = [:]
        for (queue, reply) in zip(queues, replies) {
            result[queue] = JobHash.fields(reply).compactMapValues { Int($0) }
        }
        return result
    }

    public func jobs(queue: String, state: JobState, offset: Int, limit: Int) async throws -> [Job] {
        try Names.validateQueue(queue)
        guard limit > 0 else { return [] }
        let q = keys.queue(queue)
        let last = offset + limit - 1
        let ids: [String]
        switch state {
        case .queued:
            // Prioritized jobs first, best first; then the list, whose next to run is last (a
            // paused queue's list is the paused one), without its wake-ups.
            let replies = try await redis.pipeline([
                RedisCommand("ZRANGE", q.prioritized, 0, last), RedisCommand("HGET", q.stats, Self.wakeMarkers),
            ])
            let prioritized = (replies[0].array ?? []).compactMap(\.string)
            let markers = replies[1].string.flatMap { Int($0) } ?? 0
            let range = [-(last + 1 + markers), -1]
            let lines = try await redis.pipeline([RedisCommand("LRANGE", [q.queued] + range), RedisCommand("LRANGE", [q.paused] + range)])
            let listed = lines.flatMap { ($0.array ?? []).compactMap(\.string).reversed() }.filter { $0 != "*" }
            ids = Array((prioritized + listed).dropFirst(offset).prefix(limit))
        case .retryQueued, .scheduled, .waiting:
            let set = state == .scheduled ? q.scheduled : state == .waiting ? q.waiting : q.retry
            ids = try await redis.send(RedisCommand("ZRANGE", set, offset, last)).array?.compactMap(\.string) ?? []
        case .cancelled:
            ids = try await redis.send(RedisCommand("ZREVRANGE", q.cancelled, offset, last)).array?.compactMap(\.string) ?? []
        case .completed:
            ids = try await redis.send(RedisCommand("ZREVRANGE", q.completed, offset, last)).array?.compactMap(\.string) ?? []
        case .deadLetter:
            ids = try await redis.send(RedisCommand("ZREVRANGE", q.dead, offset, last)).array?.compactMap(\.string) ?? []
        case .assigned, .running:
            let workers = try await self.workers().map(\.id)
            let lists = try await redis.pipeline(workers.map { RedisCommand("LRANGE", q.active(worker: $0), 0, -1) })
            ids = lists.flatMap { $0.array?.compactMap(\.string) ?? [] }
        case .submitted, .failed:
            return []
        }
        let replies = try await redis.pipeline(ids.map { RedisCommand("HGETALL", q.jobPrefix + $0) })
        let found = try replies.compactMap(JobHash.decodeJob).filter { $0.state == state }
        if state == .assigned || state == .running {
            return Array(found.sorted { $0.id > $1.id }.dropFirst(offset).prefix(limit))
        }
        return found
    }

    public func workers() async throws -> [WorkerInfo] {
        let reply = try await redis.send(RedisCommand("ZREVRANGE", keys.workers, 0, -1, "WITHSCORES"))
        let flat = reply.array ?? []
        var ids: [(String, Int64)] = []
        for i in stride(from: 0, to: flat.count - 1, by: 2) {
            if let id = flat[i].string, let score = flat[i + 1].string.flatMap(Double.init) { ids.append((id, Int64(score))) }
        }
        let hashes = try await redis.pipeline(ids.map { RedisCommand("HGETALL", keys.worker($0.0)) })
        return zip(ids, hashes).map { entry, hash in
            HeartbeatFunction.decodeWorker(id: entry.0, lastHeartbeat: entry.1, hash: JobHash.fields(hash))
        }
    }
}
