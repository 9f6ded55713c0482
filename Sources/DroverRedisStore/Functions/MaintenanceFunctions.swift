import DroverCore
import DroverRedis

/// SCHEDULED → QUEUED for delayed jobs whose time has come, and RETRY_QUEUED → QUEUED for jobs
/// whose backoff is over, at most `limit` of each per call.
struct PromoteFunction: QueueFunction {
    var queue: String
    var limit: Int

    static let name = "promote"
    static let layout = ArgumentLayout(leading: ["limit"])

    var arguments: [any RedisArgument] { Self.layout.encode([limit]) }

    /// How many moved, when the next job is due (ms since 1970) if any is waiting, and Redis's
    /// clock.
    func decode(_ reply: RESPValue) throws(RedisError) -> (promoted: Int, nextDueMs: Int64?, nowMs: Int64?) {
        let parts = try reply.elements()
        let next = parts.count > 1 ? parts[1].int.flatMap { $0 >= 0 ? Int64($0) : nil } : nil
        let now = parts.count > 2 ? parts[2].int.map(Int64.init) : nil
        return (parts.first?.int ?? 0, next, now)
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        limit = tonumber(limit)
        local promoted = 0
        local next_due = -1
        for _, source in ipairs({ { SCHEDULED_KEY, 'SCHEDULED' }, { RETRY_KEY, 'RETRY_QUEUED' } }) do
          local set_key, from = source[1], source[2]
          local due = redis.call('ZRANGEBYSCORE', set_key, '-inf', at, 'LIMIT', 0, limit)
          for _, id in ipairs(due) do
            redis.call('ZREM', set_key, id)
            local j = load(id, FIELD.priority)
            if j.state == from then
              move(j, 'QUEUED', at, tonumber(j.attempt), nil, nil)
              redis.call('HDEL', j.key, FIELD.runAt)
              enqueue_job(j)
              promoted = promoted + 1
            end
          end
          local first = redis.call('ZRANGE', set_key, 0, 0, 'WITHSCORES')
          if first[2] then
            local t = math.floor(tonumber(first[2]))
            if next_due < 0 or t < next_due then next_due = t end
          end
        end
        return { promoted, next_due, at }
        """
}

/// DEAD_LETTER → QUEUED on an operator's word, with a fresh set of attempts (the attempts
/// used so far become `attemptBase`). A workflow job's children that wait for it go on when it
/// completes.
struct RetryDeadFunction: QueueFunction {
    enum Reply: Equatable {
        case queued
        case missing
        case illegal(from: JobState?)
    }

    var queue: String
    var id: JobID

    static let name = "retry_dead"
    static let layout = ArgumentLayout(leading: ["id"])

    var arguments: [any RedisArgument] { Self.layout.encode([id.rawValue]) }

    func decode(_ reply: RESPValue) throws(RedisError) -> Reply {
        let parts = try reply.elements().compactMap(\.string)
        switch parts.first {
        case "QUEUED": return .queued
        case "ILLEGAL": return .illegal(from: parts.count > 1 ? JobState(rawValue: parts[1]) : nil)
        default: return .missing
        }
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        local j = load(id, FIELD.priority, FIELD.workflow)
        if not j.state then return { 'MISSING' } end
        if not legal(j.state, 'QUEUED') or j.state ~= 'DEAD_LETTER' then return { 'ILLEGAL', j.state } end
        redis.call('ZREM', DEAD_KEY, id)
        if j.workflow then
          -- Its workflow has one unfinished job again; one that expired meanwhile is gone, and
          -- the job runs on its own.
          local workflow_key = WORKFLOW_PREFIX .. j.workflow
          if redis.call('EXISTS', workflow_key) == 1 then
            redis.call('HINCRBY', workflow_key, 'unfinished', 1)
            redis.call('HDEL', workflow_key, 'finishedAt')
            redis.call('PERSIST', workflow_key)
          else
            redis.call('HDEL', j.key, FIELD.workflow, FIELD.workflowJob, FIELD.children)
          end
        end
        move(j, 'QUEUED', at, tonumber(j.attempt), nil, nil, { FIELD.attemptBase, j.attempt })
        redis.call('PERSIST', j.key)
        enqueue_job(j)
        return { 'QUEUED' }
        """
}

/// Deletes completed and cancelled jobs past retention and dead letters past their age or over
/// their count, hash and idempotency key included, at most `batch` of each per call.
struct TrimFunction: QueueFunction {
    var queue: String
    var completedRetention: Duration
    var deadLetterMaxAge: Duration
    var deadLetterMaxCount: Int
    var batch: Int

    static let name = "trim"
    static let layout = ArgumentLayout(leading: ["retention", "max_age", "max_count", "batch"])

    var arguments: [any RedisArgument] {
        Self.layout.encode([completedRetention.milliseconds, deadLetterMaxAge.milliseconds, deadLetterMaxCount, batch])
    }

    func decode(_ reply: RESPValue) throws(RedisError) -> (completed: Int, dead: Int) {
        let parts = try reply.elements()
        return (parts.first?.int ?? 0, parts.count > 1 ? parts[1].int ?? 0 : 0)
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        retention, max_age, max_count, batch = tonumber(retention), tonumber(max_age), tonumber(max_count), tonumber(batch)
        local finished = 0
        for _, set_key in ipairs({ COMPLETED_KEY, CANCELLED_KEY }) do
          local ids = redis.call('ZRANGEBYSCORE', set_key, '-inf', at - retention, 'LIMIT', 0, batch)
          for _, id in ipairs(ids) do
            delete_job(id)
            redis.call('ZREM', set_key, id)
          end
          finished = finished + #ids
        end
        local dead = redis.call('ZRANGEBYSCORE', DEAD_KEY, '-inf', at - max_age, 'LIMIT', 0, batch)
        local over = redis.call('ZCARD', DEAD_KEY) - #dead - max_count
        if over > 0 then
          local oldest = redis.call('ZRANGE', DEAD_KEY, #dead, #dead + math.min(over, batch) - 1)
          for _, id in ipairs(oldest) do dead[#dead + 1] = id end
        end
        for _, id in ipairs(dead) do
          delete_job(id)
          redis.call('ZREM', DEAD_KEY, id)
        end
        return { finished, #dead }
        """
}
