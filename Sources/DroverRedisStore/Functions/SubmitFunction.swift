import DroverCore
import DroverRedis

/// SUBMITTED → QUEUED (or → SCHEDULED, for a delayed job not yet due) for a batch of jobs of one
/// queue. A job whose idempotency key names a job that still exists is not created; the
/// existing job's id comes back instead.
struct SubmitFunction: QueueFunction {
    struct Job {
        var id: JobID
        var request: JobRequest
    }

    var queue: String
    var jobs: [Job]
    var defaults: QueueDefaults
    var idempotencyWindow: Duration

    static let name = "submit"
    static let layout = ArgumentLayout(
        leading: ["queue", "default_max", "default_backoff", "window"],
        perJob: ["id", "job_type", "payload", "max", "backoff", "timeout", "key", "start", "priority", "unique", "unique_ttl"])

    var arguments: [any RedisArgument] { Self.layout.encode(leadingArguments, jobs: jobArguments) }

    var leadingArguments: [any RedisArgument] {
        [queue, defaults.maxAttempts, JobHash.encode(defaults.backoff), idempotencyWindow.milliseconds]
    }

    var jobArguments: [[any RedisArgument]] {
        jobs.map { job in
            let r = job.request
            // '' for what the request leaves to the queue's defaults.
            return [
                job.id.rawValue, r.type, r.payload, r.maxAttempts.map(String.init) ?? "", r.backoff.map(JobHash.encode) ?? "",
                r.timeoutMs.map(String.init) ?? "", r.idempotencyKey ?? "", Self.encode(r.start), r.priority.map(String.init) ?? "",
                r.unique.map { $0.key ?? "*" } ?? "", r.unique?.ttl.map { String($0.milliseconds) } ?? "",
            ]
        }
    }

    /// `+<ms>` for a delay (counted from Redis's clock), `<ms>` for a due time, '' for now.
    static func encode(_ start: JobStart?) -> String {
        switch start {
        case nil: ""
        case .after(let delay): "+\(delay.milliseconds)"
        case .at(let ms): String(ms)
        }
    }

    /// Per job, in order: its id (an existing job's for a repeated idempotency key or a
    /// duplicate unique job), whether it was created, and (for a new job) whether it was delayed.
    func decode(_ reply: RESPValue) throws(RedisError) -> [(id: JobID, created: Bool, state: JobState, duplicate: Bool)] {
        let values = try reply.elements()
        guard values.count == jobs.count * 2 else {
            throw .unexpectedReply("submit returned \(values.count) values for \(jobs.count) jobs")
        }
        var out: [(id: JobID, created: Bool, state: JobState, duplicate: Bool)] = []
        for i in jobs.indices {
            guard let id = values[i * 2].string.flatMap(JobID.init) else { throw .unexpectedReply("submit returned a bad id") }
            // 0: an idempotent repeat, 1: queued, 2: scheduled; a state: a duplicate unique job's.
            if let held = values[i * 2 + 1].string.flatMap(JobState.init(rawValue:)) {
                out.append((id, false, held, true))
            } else {
                let answer = values[i * 2 + 1].int ?? 0
                out.append((id, answer != 0, answer == 2 ? .scheduled : .queued, false))
            }
        }
        return out
    }

    static let body = makeBody(layout: layout)

    /// The body, for `layout` (the submit's own, or one with more leading arguments), with
    /// `prologue` run after the arguments are bound and before anything is written: the
    /// schedule's `fire` is this body behind a check of its own.
    static func makeBody(layout: ArgumentLayout, prologue: String = "") -> String {
        """
        local at = now_ms()
        local at_text = int(at)
        \(layout.bindLeading)
        \(prologue)
        -- The queue's own defaults, where set, win over the store's.
        local config = redis.call('HMGET', CONFIG_KEY, 'maxAttempts', 'backoff', 'paused', 'priority')
        default_max = config[1] or default_max
        default_backoff = config[2] or default_backoff
        PAUSED = config[3] ~= false
        local default_priority = config[4] or '0'
        local out = {}
        \(layout.forEachJob)
          local existing = false
          if key ~= '' then
            existing = redis.call('GET', IDEMPOTENCY_PREFIX .. key)
            if existing and redis.call('EXISTS', JOB_PREFIX .. existing) == 0 then existing = false end
          end
          local holder, holder_state = false, false
          if not existing and unique ~= '' then
            -- The default key: the type and the payload's exact text, hashed.
            if unique == '*' then unique = job_type .. ':' .. redis.sha1hex(payload) end
            holder = redis.call('GET', UNIQUE_PREFIX .. unique)
            holder_state = holder and redis.call('HGET', JOB_PREFIX .. holder, FIELD.state)
            if not holder_state then holder = false end
          end
          if existing then
            out[#out + 1] = existing
            out[#out + 1] = 0
          elseif holder then
            out[#out + 1] = holder
            out[#out + 1] = holder_state
          else
            if max == '' then max = default_max end
            if backoff == '' then backoff = default_backoff end
            -- A new job: SUBMITTED and QUEUED, history included, written in one HSET.
            local j = { id = id, key = JOB_PREFIX .. id, type = job_type, historyLength = 0 }
            record(j, 'SUBMITTED', at, 0, nil, nil)
            j.state = 'SUBMITTED'
            local extra = { FIELD.id, id, FIELD.queue, queue, FIELD.type, job_type, FIELD.payload, payload, FIELD.attempt, '0',
              FIELD.attemptBase, '0', FIELD.maxAttempts, max, FIELD.backoff, backoff, AT.SUBMITTED, at_text }
            if unique ~= '' then
              j.uniqueKey = unique
              extra[#extra + 1] = FIELD.uniqueKey
              extra[#extra + 1] = unique
              if unique_ttl ~= '' then
                redis.call('SET', UNIQUE_PREFIX .. unique, id, 'PX', unique_ttl)
              else
                redis.call('SET', UNIQUE_PREFIX .. unique, id)
              end
            end
            if priority == '' then priority = default_priority end
            if priority ~= '0' then
              j.priority = priority
              extra[#extra + 1] = FIELD.priority
              extra[#extra + 1] = priority
            end
            if timeout ~= '' then
              extra[#extra + 1] = FIELD.timeoutMs
              extra[#extra + 1] = timeout
            end
            if key ~= '' then
              extra[#extra + 1] = FIELD.idempotencyKey
              extra[#extra + 1] = key
              redis.call('SET', IDEMPOTENCY_PREFIX .. key, id, 'PX', window)
            end
            local due = nil
            if start ~= '' then
              due = string.sub(start, 1, 1) == '+' and at + tonumber(string.sub(start, 2)) or tonumber(start)
              if due <= at then due = nil end
            end
            if due then
              extra[#extra + 1] = FIELD.runAt
              extra[#extra + 1] = int(due)
              move(j, 'SCHEDULED', at, 0, nil, nil, extra)
              add_due(SCHEDULED_KEY, due, id)
              count(COUNTER.scheduled, j)
            else
              move(j, 'QUEUED', at, 0, nil, nil, extra)
              enqueue_job(j)
            end
            count(COUNTER.submitted, j)
            out[#out + 1] = id
            -- 1: queued, 2: scheduled.
            out[#out + 1] = due and 2 or 1
          end
        end
        return out
        """
    }
}
