import DroverCore
import DroverRedis

/// One firing of a cron schedule, exactly once: the call that finds the schedule still due at
/// `fireAt` submits its job (the submit's own body, idempotency key `cron:<name>:<fireAt>`)
/// and moves the schedule to `nextAt` in the same step; any other call for that firing, from
/// another master or worker, finds it moved and changes nothing. Without a job, the firing is
/// skipped (a missed firing under the `skip` policy) and the schedule still moves on.
struct FireFunction: QueueFunction {
    enum Reply: Equatable {
        /// Another call made this firing already (or the schedule was paused or removed).
        case taken
        case fired(JobID)
        case skipped
    }

    var submit: SubmitFunction
    var schedule: String
    var fireAt: Int64
    /// `nil`: the schedule never fires again.
    var nextAt: Int64?
    var cronKey: String
    var scheduleKey: String

    var queue: String { submit.queue }
    var extraKeys: [String] { [cronKey, scheduleKey] }

    static let name = "fire"
    static let layout = ArgumentLayout(
        leading: SubmitFunction.layout.leading + ["schedule", "fire_at", "next_at"], perJob: SubmitFunction.layout.perJob)

    var arguments: [any RedisArgument] {
        Self.layout.encode(submit.leadingArguments + [schedule, fireAt, nextAt.map(String.init) ?? ""], jobs: submit.jobArguments)
    }

    func decode(_ reply: RESPValue) throws(RedisError) -> Reply {
        let values = try reply.elements()
        if values.first?.string == "TAKEN" { return .taken }
        guard let first = values.first else { return .skipped }
        guard let id = first.string.flatMap(JobID.init) else { throw .unexpectedReply("fire returned \(reply)") }
        return .fired(id)
    }

    static let body = SubmitFunction.makeBody(
        layout: layout,
        prologue: """
            local CRON_KEY, SCHEDULE_KEY = KEYS[FIRST_EXTRA_KEY], KEYS[FIRST_EXTRA_KEY + 1]
            if redis.call('ZSCORE', CRON_KEY, schedule) ~= fire_at then return { 'TAKEN' } end
            -- Promoters slept until this firing; they learn of the next when they look.
            schedule_next(CRON_KEY, SCHEDULE_KEY, schedule, next_at, false)
            local job_id = ARGV[\(layout.first + layout.leading.count)]
            if job_id then
              redis.call('HSET', SCHEDULE_KEY, 'lastFireAt', fire_at, 'lastJobId', job_id)
              redis.call('HINCRBY', SCHEDULE_KEY, 'firings', 1)
            else
              redis.call('HINCRBY', SCHEDULE_KEY, 'skipped', 1)
            end
            """)
}

/// Every change to a cron schedule, each one atomic: `put` (create or replace, keeping its
/// firing count and last firing), `remove`, `pause`, `resume`. A schedule that becomes active
/// is announced on the due channel, so promoters asleep until a later time wake for it.
struct CronEditFunction: QueueFunction {
    enum Action {
        /// The schedule's fields, and its next fire time (`nil`: paused, or never again).
        case put([(String, String)], nextAt: Int64?)
        case remove
        case pause
        case resume(nextAt: Int64?)
    }

    enum Reply: Equatable {
        case missing
        /// The schedule's hash after the change (empty after `remove`), and whether `put` created it.
        case done(fields: [String: String], created: Bool)
    }

    var queue: String
    var name: String
    var action: Action
    var cronKey: String
    var scheduleKey: String

    var extraKeys: [String] { [cronKey, scheduleKey] }

    static let name = "cron"
    static let layout = ArgumentLayout(leading: ["action", "queue", "schedule", "next_at"], perJob: ["field", "value"])

    var arguments: [any RedisArgument] {
        switch action {
        case .put(let fields, let nextAt):
            Self.layout.encode(["put", queue, name, nextAt.map(String.init) ?? ""], jobs: fields.map { [$0.0, $0.1] })
        case .remove: Self.layout.encode(["remove", queue, name, ""])
        case .pause: Self.layout.encode(["pause", queue, name, ""])
        case .resume(let nextAt): Self.layout.encode(["resume", queue, name, nextAt.map(String.init) ?? ""])
        }
    }

    func decode(_ reply: RESPValue) throws(RedisError) -> Reply {
        let values = try reply.elements()
        if values.first?.string == "MISSING" { return .missing }
        guard let created = values.first?.int, values.count == 2 else { throw .unexpectedReply("cron returned \(reply)") }
        return .done(fields: JobHash.fields(values[1]), created: created == 1)
    }

    static let body = """
        now_ms()
        \(layout.bindLeading)
        local CRON_KEY, SCHEDULE_KEY = KEYS[FIRST_EXTRA_KEY], KEYS[FIRST_EXTRA_KEY + 1]
        local exists = redis.call('EXISTS', SCHEDULE_KEY) == 1
        local function activate() schedule_next(CRON_KEY, SCHEDULE_KEY, schedule, next_at, true) end
        if action == 'put' then
          local kept = exists and redis.call('HMGET', SCHEDULE_KEY, 'firings', 'skipped', 'lastFireAt', 'lastJobId') or {}
          redis.call('DEL', SCHEDULE_KEY)
          local fields = {}
          \(layout.forEachJob)
            fields[#fields + 1] = field
            fields[#fields + 1] = value
          end
          for i, name in ipairs({ 'firings', 'skipped', 'lastFireAt', 'lastJobId' }) do
            if kept[i] then
              fields[#fields + 1] = name
              fields[#fields + 1] = kept[i]
            end
          end
          redis.call('HSET', SCHEDULE_KEY, unpack(fields))
          activate()
          return { exists and 0 or 1, redis.call('HGETALL', SCHEDULE_KEY) }
        end
        if not exists then return { 'MISSING' } end
        if action == 'remove' then
          redis.call('ZREM', CRON_KEY, schedule)
          redis.call('DEL', SCHEDULE_KEY)
        elseif action == 'pause' then
          redis.call('HSET', SCHEDULE_KEY, 'paused', NOW_TEXT)
          next_at = ''
          activate()
        else
          redis.call('HDEL', SCHEDULE_KEY, 'paused')
          activate()
        end
        return { 0, redis.call('HGETALL', SCHEDULE_KEY) }
        """

    /// The prelude's part for schedules.
    static let helpers = """
        -- Moves a schedule to its next fire time, or takes it out of the queue's index for
        -- `next_at` '' (paused, or never again); `announce` wakes the promoters for it.
        local function schedule_next(cron_key, schedule_key, name, next_at, announce)
          if next_at == '' then
            redis.call('ZREM', cron_key, name)
            redis.call('HDEL', schedule_key, 'nextFireAt')
            return
          end
          redis.call('ZADD', cron_key, next_at, name)
          redis.call('HSET', schedule_key, 'nextFireAt', next_at)
          if announce then redis.call('PUBLISH', DUE_CHANNEL, next_at) end
        end

        """
}
