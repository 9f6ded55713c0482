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
        try await moveLegacyKeys()
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

    public func jobs(queue: String, state: JobState, after cursor: JobCursor?, limit: Int) async throws -> JobPage {
        try Names.validateQueue(queue)
        guard limit > 0 else { return JobPage(jobs: [], next: nil) }
        let q = keys.queue(queue)
        let listed: JobListing
        switch state {
        case .queued:
            listed = try await queuedIDs(q, after: cursor, limit: limit)
        case .retryQueued, .scheduled, .waiting:
            let set = state == .scheduled ? q.scheduled : state == .waiting ? q.waiting : q.retry
            listed = try await sortedIDs(set, newestFirst: false, after: cursor, limit: limit)
        case .cancelled, .completed, .deadLetter:
            let set = state == .cancelled ? q.cancelled : state == .completed ? q.completed : q.dead
            listed = try await sortedIDs(set, newestFirst: true, after: cursor, limit: limit)
        case .assigned, .running:
            // Held jobs sit in their workers' lists: few, read whole, newest id first.
            let workers = try await self.workers().map(\.id)
            let lists = try await redis.pipeline(workers.map { RedisCommand("LRANGE", q.active(worker: $0), 0, -1) })
            let held = lists.flatMap { $0.array?.compactMap(\.string) ?? [] }.filter { $0 != "*" }.sorted(by: >)
            let after = cursor.map { last in held.filter { $0 < last.last.rawValue } } ?? held
            listed = JobListing(ids: Array(after.prefix(limit)), more: after.count > limit) { .rank($0) }
        case .submitted, .failed:
            return JobPage(jobs: [], next: nil)
        }
        let replies = try await redis.pipeline(listed.ids.map { RedisCommand("HGETALL", q.jobPrefix + $0) })
        // A job that moved on between the two reads is left out; the cursor still goes past it.
        let found = try replies.compactMap(JobHash.decodeJob).filter { $0.state == state }
        return JobPage(jobs: found, next: listed.next)
    }

    /// Ids of one page in listing order, and where the next page starts.
    struct JobListing {
        var ids: [String]
        var next: JobCursor?

        init(ids: [String], more: Bool, placeOfLast: Int = 0, place: (Int) -> JobCursor.Place) {
            self.ids = ids
            self.next = more ? ids.last.flatMap(JobID.init).map { JobCursor(last: $0, place: place(placeOfLast)) } : nil
        }
    }

    /// A page of a sorted set, oldest (or newest) first: after the cursor's job by its rank,
    /// O(log n) however deep, or at its old rank if it has left the set.
    private func sortedIDs(_ key: String, newestFirst: Bool, after cursor: JobCursor?, limit: Int) async throws -> JobListing {
        var start = 0
        if let cursor {
            let rank = try await redis.send(RedisCommand(newestFirst ? "ZREVRANK" : "ZRANK", key, cursor.last.rawValue)).int
            if let rank {
                start = rank + 1
            } else if case .rank(let old) = cursor.place {
                start = old
            }
        }
        // One more than the page, to know whether another follows.
        let ids =
            try await redis.send(RedisCommand(newestFirst ? "ZREVRANGE" : "ZRANGE", key, start, start + limit)).array?
            .compactMap(\.string) ?? []
        let page = Array(ids.prefix(limit))
        return JobListing(ids: page, more: ids.count > limit, placeOfLast: start + page.count) { .rank($0) }
    }

    /// A page of QUEUED jobs in the order they will run: prioritized ones best first, then the
    /// line from its next-to-run end (the paused line when the queue is paused), without its
    /// wake-up markers. A cursor in the line is looked for around its old place (see
    /// ``placeAfter(_:near:in:reach:)``): jobs taken since only move it towards the front. A job
    /// no longer in the line was taken, and so were those before it: the page then starts at
    /// the front, so nothing behind it is skipped.
    private func queuedIDs(_ q: QueueKeys, after cursor: JobCursor?, limit: Int) async throws -> JobListing {
        var page: [String] = []
        let inLine: Bool = if case .line = cursor?.place { true } else { false }
        if !inLine {
            var start = 0
            if let cursor, case .rank(let old) = cursor.place {
                start = try await redis.send(RedisCommand("ZRANK", q.prioritized, cursor.last.rawValue)).int.map { $0 + 1 } ?? old
            }
            let ids = try await redis.send(RedisCommand("ZRANGE", q.prioritized, start, start + limit)).array?.compactMap(\.string) ?? []
            if ids.count > limit {
                return JobListing(ids: Array(ids.prefix(limit)), more: true, placeOfLast: start + limit) { .rank($0) }
            }
            page = ids
        }
        let markers = try await redis.send(RedisCommand("HGET", q.stats, Self.wakeMarkers)).string.flatMap { Int($0) } ?? 0
        // Places in the line are 1-based from the next-to-run end (index -1).
        var from = 1
        if let cursor, case .line(let old) = cursor.place {
            from = try await placeAfter(cursor.last.rawValue, near: old, in: q, reach: limit + markers + 1)
        }
        let wanted = limit - page.count
        let line = try await lineRange(q, from: from, count: wanted + markers + 1)
        var taken = 0
        var placeOfLast = from - 1
        for (offset, id) in line.enumerated() where id != "*" {
            if taken == wanted {
                return JobListing(ids: page, more: true, placeOfLast: placeOfLast) { .line($0) }
            }
            page.append(id)
            taken += 1
            placeOfLast = from + offset
        }
        return JobListing(ids: page, more: false) { .line($0) }
    }

    /// How many places a job may move towards the front between two pages and still be found
    /// by the one read around its old place; farther costs a scan of the line up to it.
    static let lineDrift = 1000

    /// The place right after `id` in the line. One round trip reads the window around its old
    /// place and the job's state; only a job still QUEUED but moved farther forward than the
    /// window costs a scan, which ends where it finds it.
    private func placeAfter(_ id: String, near old: Int, in q: QueueKeys, reach: Int) async throws -> Int {
        let low = max(1, old - Self.lineDrift)
        let replies = try await redis.pipeline(
            Self.lineCommands(q, from: low, count: old - low + reach) + [RedisCommand("HGET", q.jobPrefix + id, JobField.state.rawValue)])
        let window = try Self.lineEntries(replies[0...1])
        if let index = window.firstIndex(of: id) { return low + index + 1 }
        // Taken (or gone): so was every job before it, and the next page starts at the front.
        guard low > 1, try replies[2].throwingServerError().string == JobState.queued.rawValue else { return 1 }
        let scans = try await redis.pipeline([
            RedisCommand("LPOS", q.queued, id, "RANK", -1, "MAXLEN", low - 1), RedisCommand("LLEN", q.queued),
            RedisCommand("LPOS", q.paused, id, "RANK", -1, "MAXLEN", low - 1), RedisCommand("LLEN", q.paused),
        ])
        for (position, length) in [(scans[0], scans[1]), (scans[2], scans[3])] {
            if let index = try position.throwingServerError().int, let length = try length.throwingServerError().int {
                return length - index + 1
            }
        }
        return 1
    }

    /// `count` entries of the line from place `from` on, in the order they will run. A queue's
    /// jobs are in one of its two lines (ready or paused) at a time: both are read.
    private func lineRange(_ q: QueueKeys, from: Int, count: Int) async throws -> [String] {
        try Self.lineEntries(try await redis.pipeline(Self.lineCommands(q, from: from, count: count))[...])
    }

    /// The two `LRANGE`s of ``lineRange(_:from:count:)``, to pipeline with other commands.
    private static func lineCommands(_ q: QueueKeys, from: Int, count: Int) -> [RedisCommand] {
        let range = [-(from + count - 1), -from]
        return [RedisCommand("LRANGE", [q.queued] + range), RedisCommand("LRANGE", [q.paused] + range)]
    }

    /// Their replies as entries in the order they will run.
    private static func lineEntries(_ replies: ArraySlice<RESPValue>) throws -> [String] {
        try replies.flatMap { try $0.elements().compactMap(\.string).reversed() }
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
