import DroverCore
import DroverRedis

/// Every Lua function of the Redis store, in one library loaded once per Redis (see
/// ``RedisFunctionLibrary``). Each one is one atomic step of the job lifecycle.
///
/// All per-queue functions take the same keys and first four arguments, bound to names by the
/// shared prelude:
///
/// - `KEYS`: queued, retry, dead, completed, stats, config, the worker's active list, the
///   queue's holders set (plus the workers sorted set for `reap`)
/// - `ARGV[1...4]`: job key prefix, idempotency key prefix, finished channel, history limit
///
/// Function-specific arguments start at `ARGV[5]`. They read the clock with Redis's `TIME`,
/// so every timestamp, due time and heartbeat comes from one clock whatever the machines'.
///
/// A function checks everything before its first write: Redis does not roll back a function
/// that fails half-way, so a refused move must leave no trace.
enum Scripts {
    /// The state machine, translated from ``JobState`` so Lua and Swift cannot disagree.
    static let stateTables: String = {
        let legal = JobState.allCases.map { state in
            let next = state.legalNextStates.map(\.rawValue).sorted().map { "\($0) = true" }.joined(separator: ", ")
            return "  \(state.rawValue) = { \(next) },"
        }.joined(separator: "\n")
        let at = JobState.allCases.map { "  \($0.rawValue) = '\($0.timestampField)'," }.joined(separator: "\n")
        return "local LEGAL = {\n\(legal)\n}\nlocal AT = {\n\(at)\n}\n"
    }()

    static let prelude = """
        -- The call in progress: its keys and arguments, bound to names by `begin` (functions run
        -- one at a time, so these are the current call's until it returns).
        local KEYS, ARGV
        local QUEUED_KEY, RETRY_KEY, DEAD_KEY, COMPLETED_KEY, STATS_KEY, CONFIG_KEY, ACTIVE_KEY, HOLDERS_KEY
        local JOB_PREFIX, IDEMPOTENCY_PREFIX, FINISHED_CHANNEL, HISTORY_LIMIT
        \(stateTables)
        -- States counted in the stats hash as they are entered and left.
        local GAUGES = { ASSIGNED = true, RUNNING = true }

        -- The call's clock reading, and as text: most numbers a call writes are this one.
        local NOW, NOW_TEXT
        local function now_ms()
          local t = redis.call('TIME')
          NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
          NOW_TEXT = string.format('%d', NOW)
          return NOW
        end

        -- Numbers go to Redis and into JSON as integer text: Redis turns a Lua number argument
        -- into text with printf("%.17g"), which costs more than the command itself.
        local function int(n)
          if n == NOW then return NOW_TEXT end
          return string.format('%d', n)
        end

        local function legal(from, to)
          return LEGAL[from] ~= nil and LEGAL[from][to] == true
        end

        -- Counter increments are gathered here and written once per field when the script
        -- ends (see the end of every script): a batch of jobs costs one HINCRBY per counter,
        -- and a gauge that goes up and down again in one script costs nothing.
        local STATS
        local function bump(field, n)
          STATS[field] = (STATS[field] or 0) + (n or 1)
        end
        local function flush_stats()
          for field, n in pairs(STATS) do
            if n ~= 0 then redis.call('HINCRBY', STATS_KEY, field, int(n)) end
          end
        end

        -- A job as one script works on it: the fields it reads, read in one HMGET, and the
        -- history it appends to, written back with the state in one HSET per transition.
        local JOB_FIELDS = { 'state', 'worker', 'attempt', 'type', 'history', 'historyLength' }
        local function load(id, ...)
          local job_key = JOB_PREFIX .. id
          local names = { unpack(JOB_FIELDS) }
          for _, name in ipairs({ ... }) do names[#names + 1] = name end
          local values = redis.call('HMGET', job_key, unpack(names))
          local j = { id = id, key = job_key }
          for i, name in ipairs(names) do j[name] = values[i] or nil end
          j.historyLength = tonumber(j.historyLength) or 0
          return j
        end

        -- Lifetime counters, per queue and per queue and job type: `completed` and
        -- `completed:<type>`. Metrics read them, so every process's work is counted once.
        local function count(event, j)
          bump(event)
          bump(event .. ':' .. (j.type or 'unknown'))
        end

        -- Run times of completed jobs as histogram buckets, `runtime:<type>:<le ms>` (each run
        -- counted in its own bucket only), with `runtimeSum:<type>` in milliseconds.
        local RUNTIME_BUCKETS = { \(RuntimeHistogram.bucketsMs.map(String.init).joined(separator: ", ")) }
        local RUNTIME_LABELS = { \(RuntimeHistogram.bucketsMs.map { "'\($0)'" }.joined(separator: ", ")) }
        local function record_runtime(j, ms)
          local job_type = j.type or 'unknown'
          local le = '+Inf'
          for i, bound in ipairs(RUNTIME_BUCKETS) do
            if ms <= bound then le = RUNTIME_LABELS[i]; break end
          end
          bump('runtime:' .. job_type .. ':' .. le)
          bump('runtimeSum:' .. job_type, ms)
        end

        -- Appends one entry to the job's history (in memory: `advance` writes it), a JSON
        -- array kept in the job hash. The common case splices text; only a history over its
        -- limit is decoded and cut.
        local function record(j, state, at, attempt, worker, err)
          local encoded = '{"state":"' .. state .. '","at":' .. int(at) .. ',"attempt":' .. int(attempt)
          if worker and worker ~= '' then encoded = encoded .. ',"worker":' .. cjson.encode(worker) end
          if err and err ~= '' then encoded = encoded .. ',"error":' .. cjson.encode(err) end
          encoded = encoded .. '}'
          if not j.history or j.history == '' then
            j.history = '[' .. encoded .. ']'
          else
            j.history = string.sub(j.history, 1, -2) .. ',' .. encoded .. ']'
          end
          j.historyLength = j.historyLength + 1
          if j.historyLength > HISTORY_LIMIT then
            local entries = cjson.decode(j.history)
            local kept = {}
            for i = #entries - HISTORY_LIMIT + 1, #entries do kept[#kept + 1] = entries[i] end
            j.history = cjson.encode(kept)
            j.historyLength = #kept
          end
        end

        -- The only place a job's state changes: through each state of `path` in turn (each
        -- move checked and recorded; `err` goes with the first), then one HSET of the final
        -- state, its timestamps, the history and the `extra` field/value pairs.
        local function advance(j, path, at, attempt, worker, err, extra)
          local fields = {}
          for step, to in ipairs(path) do
            if not legal(j.state, to) then
              error('drover: illegal transition ' .. tostring(j.state) .. ' -> ' .. to .. ' for ' .. j.key)
            end
            if GAUGES[j.state] then bump(j.state, -1) end
            if GAUGES[to] then bump(to, 1) end
            record(j, to, at, attempt, worker, step == 1 and err or nil)
            if to == 'RUNNING' then count('started', j) end
            fields[#fields + 1] = AT[to]
            fields[#fields + 1] = int(at)
            j.state = to
          end
          fields[#fields + 1] = 'state'
          fields[#fields + 1] = j.state
          fields[#fields + 1] = 'history'
          fields[#fields + 1] = j.history
          fields[#fields + 1] = 'historyLength'
          fields[#fields + 1] = int(j.historyLength)
          for _, value in ipairs(extra or {}) do fields[#fields + 1] = value end
          redis.call('HSET', j.key, unpack(fields))
        end

        local function move(j, to, at, attempt, worker, err, extra)
          advance(j, { to }, at, attempt, worker, err, extra)
        end

        -- Fencing: a report applies only while the job is in one of `states` under this worker
        -- and attempt. Returns the job, or nil and the answer for a refused report, which is
        -- counted.
        local function held(id, states, worker, attempt, ...)
          local j = load(id, ...)
          if j.state and states[j.state] and j.worker == worker and tonumber(j.attempt) == attempt then return j, nil end
          count('staleReports', j)
          return nil, 'STALE ' .. (j.state or 'MISSING')
        end

        local function publish_finished(id, state)
          redis.call('PUBLISH', FINISHED_CHANNEL, id .. ' ' .. state)
        end

        -- FAILED, then RETRY_QUEUED while attempts are left (or whatever is left when the failure
        -- was not the job's fault), else DEAD_LETTER. `j` must hold attemptBase and maxAttempts.
        -- Returns the state the job ends in.
        local function fail(j, at, attempt, worker, err, delay_ms, always_retry)
          count('failed', j)
          local used = attempt - tonumber(j.attemptBase or 0)
          local allowed = tonumber(j.maxAttempts)
          if always_retry or used < allowed then
            local due = at + delay_ms
            advance(j, { 'FAILED', 'RETRY_QUEUED' }, at, attempt, worker, err, { 'error', err, 'runAt', int(due) })
            redis.call('ZADD', RETRY_KEY, int(due), j.id)
            count('retried', j)
            return 'RETRY_QUEUED'
          end
          advance(j, { 'FAILED', 'DEAD_LETTER' }, at, attempt, worker, err, { 'error', err })
          redis.call('ZADD', DEAD_KEY, int(at), j.id)
          count('deadLettered', j)
          publish_finished(j.id, 'DEAD_LETTER')
          return 'DEAD_LETTER'
        end

        -- Removes a finished job for good: its hash and its idempotency key.
        local function delete_job(id)
          local job_key = JOB_PREFIX .. id
          local key = redis.call('HGET', job_key, 'idempotencyKey')
          if key and redis.call('GET', IDEMPOTENCY_PREFIX .. key) == id then
            redis.call('DEL', IDEMPOTENCY_PREFIX .. key)
          end
          redis.call('DEL', job_key)
        end

        local function begin(keys, args)
          KEYS, ARGV = keys, args
          QUEUED_KEY, RETRY_KEY, DEAD_KEY, COMPLETED_KEY = keys[1], keys[2], keys[3], keys[4]
          STATS_KEY, CONFIG_KEY, ACTIVE_KEY, HOLDERS_KEY = keys[5], keys[6], keys[7], keys[8]
          JOB_PREFIX, IDEMPOTENCY_PREFIX, FINISHED_CHANNEL = args[1], args[2], args[3]
          HISTORY_LIMIT = tonumber(args[4])
          STATS = {}
        end

        -- Every function: bind the call, run the body, write the counters it gathered.
        local function register(name, body)
          redis.register_function(LIBRARY .. '_' .. name, function(keys, args)
            begin(keys, args)
            local result = body()
            flush_stats()
            return result
          end)
        end

        """

    /// The library every function below lives in (`FUNCTION LIST` shows it as
    /// `drover_<hash>`): the prelude once, then each body registered under its name.
    static let library = RedisFunctionLibrary(
        prefix: "drover",
        body: prelude
            + bodies.map { name, body in "register('\(name)', function()\n\(body)\nend)\n" }.joined())

    static let submit = library.function("submit")
    static let claim = library.function("claim")
    static let start = library.function("start")
    static let complete = library.function("complete")
    static let fail = library.function("fail")
    static let reap = library.function("reap")
    static let reconcile = library.function("reconcile")
    static let promote = library.function("promote")
    static let retryDead = library.function("retry_dead")
    static let trim = library.function("trim")
    static let heartbeat = library.function("heartbeat")
    static let lostWorkers = library.function("lost_workers")
    static let forgetWorker = library.function("forget_worker")

    private static let bodies: [(String, String)] = [
        ("submit", submitBody),
        ("claim", claimBody),
        ("start", startBody),
        ("complete", completeBody),
        ("fail", failBody),
        ("reap", reapBody),
        ("reconcile", reconcileBody),
        ("promote", promoteBody),
        ("retry_dead", retryDeadBody),
        ("trim", trimBody),
        ("heartbeat", heartbeatBody),
        ("lost_workers", lostWorkersBody),
        ("forget_worker", forgetWorkerBody),
    ]

    /// SUBMITTED → QUEUED for a batch of jobs of one queue.
    /// ARGV: queue, count, default maxAttempts, default backoff, idempotency window (ms),
    /// then per job: id, type, payload, maxAttempts, backoff, timeoutMs, idempotency key
    /// ('' where not given). Returns per job: id, 1 if created or 0 if an existing job matched.
    private static let submitBody = """
        local at = now_ms()
        local at_text = int(at)
        local queue, job_count = ARGV[5], tonumber(ARGV[6])
        local config = redis.call('HMGET', CONFIG_KEY, 'maxAttempts', 'backoff')
        local default_max = config[1] or ARGV[7]
        local default_backoff = config[2] or ARGV[8]
        local window = tonumber(ARGV[9])
        local out = {}
        for i = 0, job_count - 1 do
          local a = 10 + i * 7
          local id, job_type, payload = ARGV[a], ARGV[a + 1], ARGV[a + 2]
          local max, backoff, timeout, key = ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
          local existing = false
          if key ~= '' then
            existing = redis.call('GET', IDEMPOTENCY_PREFIX .. key)
            if existing and redis.call('EXISTS', JOB_PREFIX .. existing) == 0 then existing = false end
          end
          if existing then
            out[#out + 1] = existing
            out[#out + 1] = 0
          else
            if max == '' then max = default_max end
            if backoff == '' then backoff = default_backoff end
            -- A new job: SUBMITTED and QUEUED, history included, written in one HSET.
            local j = { id = id, key = JOB_PREFIX .. id, type = job_type, historyLength = 0 }
            record(j, 'SUBMITTED', at, 0, nil, nil)
            j.state = 'SUBMITTED'
            local extra = { 'id', id, 'queue', queue, 'type', job_type, 'payload', payload, 'attempt', '0', 'attemptBase', '0',
              'maxAttempts', max, 'backoff', backoff, 'submittedAt', at_text }
            if timeout ~= '' then
              extra[#extra + 1] = 'timeoutMs'
              extra[#extra + 1] = timeout
            end
            if key ~= '' then
              extra[#extra + 1] = 'idempotencyKey'
              extra[#extra + 1] = key
              redis.call('SET', IDEMPOTENCY_PREFIX .. key, id, 'PX', window)
            end
            move(j, 'QUEUED', at, 0, nil, nil, extra)
            redis.call('LPUSH', QUEUED_KEY, id)
            count('submitted', j)
            out[#out + 1] = id
            out[#out + 1] = 1
          end
        end
        return out
        """

    /// QUEUED → ASSIGNED (→ RUNNING when `start` is 1) for the ids a blocking fetch already moved
    /// into the worker's active list, then for up to `max` more moved here from the queue.
    /// ARGV: worker, max, start, moved ids...
    /// Returns per job: {id, state, attempt, type, payload, maxAttempts, attemptBase, backoff, timeoutMs}.
    private static let claimBody = """
        local at = now_ms()
        local worker, want, start = ARGV[5], tonumber(ARGV[6]), ARGV[7] == '1'
        -- Recorded before anything lands in the active list (a blocking fetch follows a claim),
        -- so the reaper finds the list even if the worker vanishes without a heartbeat entry.
        redis.call('SADD', HOLDERS_KEY, worker)
        local out = {}
        local function take(id)
          local j = load(id, 'payload', 'maxAttempts', 'attemptBase', 'backoff', 'timeoutMs')
          if j.state ~= 'QUEUED' then
            -- Nothing to run: the job expired or is held already. Forget the id, unless it is
            -- a job this worker holds (then the list entry is what lets the reaper find it).
            local mine = (j.state == 'ASSIGNED' or j.state == 'RUNNING') and j.worker == worker
            if not mine then redis.call('LREM', ACTIVE_KEY, 1, id) end
            return
          end
          local attempt = tonumber(j.attempt) + 1
          local path = start and { 'ASSIGNED', 'RUNNING' } or { 'ASSIGNED' }
          advance(j, path, at, attempt, worker, nil, { 'attempt', int(attempt), 'worker', worker })
          out[#out + 1] = { id, j.state, attempt, j.type, j.payload, j.maxAttempts, j.attemptBase or '0', j.backoff, j.timeoutMs or '' }
        end
        for i = 8, #ARGV do take(ARGV[i]) end
        for _ = 1, want do
          local id = redis.call('LMOVE', QUEUED_KEY, ACTIVE_KEY, 'RIGHT', 'LEFT')
          if not id then break end
          take(id)
        end
        return out
        """

    /// ASSIGNED → RUNNING, fenced. ARGV: worker, then pairs of id, attempt.
    /// Returns per job 'RUNNING' or 'STALE <state>'.
    private static let startBody = """
        local at = now_ms()
        local worker = ARGV[5]
        local out = {}
        for a = 6, #ARGV, 2 do
          local id, attempt = ARGV[a], tonumber(ARGV[a + 1])
          local j, refused = held(id, { ASSIGNED = true }, worker, attempt)
          if j then
            move(j, 'RUNNING', at, attempt, worker, nil)
            out[#out + 1] = 'RUNNING'
          else
            out[#out + 1] = refused
          end
        end
        return out
        """

    /// RUNNING → COMPLETED, fenced by worker and attempt.
    /// ARGV: worker, retention (ms), then triples of id, attempt, result JSON.
    /// Returns per job 'COMPLETED' or 'STALE <state>'.
    private static let completeBody = """
        local at = now_ms()
        local worker, retention = ARGV[5], tonumber(ARGV[6])
        local out = {}
        for a = 7, #ARGV, 3 do
          local id, attempt, result = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2]
          local j, refused = held(id, { RUNNING = true }, worker, attempt, 'runningAt', 'runAt')
          if j then
            move(j, 'COMPLETED', at, attempt, worker, nil, { 'result', result })
            if j.runAt then redis.call('HDEL', j.key, 'runAt') end
            redis.call('LREM', ACTIVE_KEY, 1, id)
            redis.call('ZADD', COMPLETED_KEY, int(at), id)
            redis.call('PEXPIRE', j.key, ARGV[6])
            count('completed', j)
            record_runtime(j, at - tonumber(j.runningAt or at))
            publish_finished(id, 'COMPLETED')
            out[#out + 1] = 'COMPLETED'
          else
            out[#out + 1] = refused
          end
        end
        return out
        """

    /// RUNNING (or, for an interrupted job, ASSIGNED) → FAILED → RETRY_QUEUED | DEAD_LETTER, fenced.
    /// ARGV: worker, then groups of id, attempt, error, delay (ms), mode ('error' or 'interrupted').
    /// Returns per job the new state or 'STALE <state>'.
    private static let failBody = """
        local at = now_ms()
        local worker = ARGV[5]
        local out = {}
        for a = 6, #ARGV, 5 do
          local id, attempt, err, delay, mode = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4]
          local interrupted = mode == 'interrupted'
          local j, refused = held(id, { RUNNING = true, ASSIGNED = interrupted }, worker, attempt, 'attemptBase', 'maxAttempts')
          if j then
            redis.call('LREM', ACTIVE_KEY, 1, id)
            out[#out + 1] = fail(j, at, attempt, worker, err, delay, interrupted)
          else
            out[#out + 1] = refused
          end
        end
        return out
        """

    /// Hands back the jobs of a worker whose heartbeat stopped: ids it moved but never claimed
    /// go back to the head of the queue; jobs it held go through FAILED ("worker lost").
    /// Does nothing if the worker's heartbeat is fresh again. KEYS[9]: the workers sorted set.
    /// ARGV: worker, heartbeat timeout (ms), reason, then pairs of id, retry delay (ms).
    /// Returns {'ALIVE'} or per id 'REQUEUED', the new state, or 'SKIPPED'.
    private static let reapBody = """
        local at = now_ms()
        local worker, timeout, reason = ARGV[5], tonumber(ARGV[6]), ARGV[7]
        local seen = redis.call('ZSCORE', KEYS[9], worker)
        if seen and tonumber(seen) > at - timeout then return { 'ALIVE' } end
        local out = {}
        for a = 8, #ARGV, 2 do
          local id, delay = ARGV[a], tonumber(ARGV[a + 1])
          redis.call('LREM', ACTIVE_KEY, 0, id)
          local j = load(id, 'attemptBase', 'maxAttempts')
          if j.state == 'QUEUED' then
            redis.call('RPUSH', QUEUED_KEY, id)
            out[#out + 1] = 'REQUEUED'
          elseif (j.state == 'RUNNING' or j.state == 'ASSIGNED') and j.worker == worker then
            out[#out + 1] = fail(j, at, tonumber(j.attempt), worker, reason, delay, false)
            count('reassigned', j)
          else
            out[#out + 1] = 'SKIPPED'
          end
        end
        if redis.call('LLEN', ACTIVE_KEY) == 0 then redis.call('SREM', HOLDERS_KEY, worker) end
        return out
        """

    /// Makes a worker's processing list agree with what the worker says it holds: ids still
    /// QUEUED (moved by a blocking fetch nobody claimed) go back to the head of the queue;
    /// jobs held under the worker's name that it does not know of (a claim whose reply was
    /// lost) go FAILED → RETRY_QUEUED, due at once and not counted against them; ids of jobs
    /// the worker no longer holds are dropped.
    /// ARGV: worker, reason, ids the worker holds... Returns pairs of id, 'REQUEUED' or 'HANDED_BACK'.
    private static let reconcileBody = """
        local at = now_ms()
        local worker, reason = ARGV[5], ARGV[6]
        local holding = {}
        for a = 7, #ARGV do holding[ARGV[a]] = true end
        local out = {}
        for _, id in ipairs(redis.call('LRANGE', ACTIVE_KEY, 0, -1)) do
          local j = load(id, 'attemptBase', 'maxAttempts')
          local mine = (j.state == 'ASSIGNED' or j.state == 'RUNNING') and j.worker == worker
          if not (mine and holding[id]) then
            redis.call('LREM', ACTIVE_KEY, 0, id)
            if mine then
              fail(j, at, tonumber(j.attempt), worker, reason, 0, true)
              out[#out + 1] = id
              out[#out + 1] = 'HANDED_BACK'
            elseif j.state == 'QUEUED' then
              redis.call('RPUSH', QUEUED_KEY, id)
              out[#out + 1] = id
              out[#out + 1] = 'REQUEUED'
            end
          end
        end
        if redis.call('LLEN', ACTIVE_KEY) == 0 then redis.call('SREM', HOLDERS_KEY, worker) end
        return out
        """

    /// RETRY_QUEUED → QUEUED for jobs that are due. ARGV: limit.
    /// Returns {promoted, next due time in ms or -1}.
    private static let promoteBody = """
        local at = now_ms()
        local due = redis.call('ZRANGEBYSCORE', RETRY_KEY, '-inf', at, 'LIMIT', 0, tonumber(ARGV[5]))
        local promoted = 0
        for _, id in ipairs(due) do
          redis.call('ZREM', RETRY_KEY, id)
          local j = load(id)
          if j.state == 'RETRY_QUEUED' then
            move(j, 'QUEUED', at, tonumber(j.attempt), nil, nil)
            redis.call('HDEL', j.key, 'runAt')
            redis.call('LPUSH', QUEUED_KEY, id)
            promoted = promoted + 1
          end
        end
        local next_due = redis.call('ZRANGE', RETRY_KEY, 0, 0, 'WITHSCORES')
        return { promoted, next_due[2] and math.floor(tonumber(next_due[2])) or -1 }
        """

    /// DEAD_LETTER → QUEUED on an operator's word, with a fresh set of attempts. ARGV: id.
    /// Returns {'QUEUED'}, {'MISSING'} or {'ILLEGAL', state}.
    private static let retryDeadBody = """
        local at = now_ms()
        local id = ARGV[5]
        local j = load(id)
        if not j.state then return { 'MISSING' } end
        if not legal(j.state, 'QUEUED') or j.state ~= 'DEAD_LETTER' then return { 'ILLEGAL', j.state } end
        redis.call('ZREM', DEAD_KEY, id)
        move(j, 'QUEUED', at, tonumber(j.attempt), nil, nil, { 'attemptBase', j.attempt })
        redis.call('PERSIST', j.key)
        redis.call('LPUSH', QUEUED_KEY, id)
        return { 'QUEUED' }
        """

    /// Deletes completed jobs past retention and dead letters past their age or over their count,
    /// hash and idempotency key included, at most `batch` of each per call.
    /// ARGV: completed retention (ms), dead max age (ms), dead max count, batch.
    /// Returns {completed removed, dead removed}.
    private static let trimBody = """
        local at = now_ms()
        local retention, max_age, max_count, batch = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
        local completed = redis.call('ZRANGEBYSCORE', COMPLETED_KEY, '-inf', at - retention, 'LIMIT', 0, batch)
        for _, id in ipairs(completed) do
          delete_job(id)
          redis.call('ZREM', COMPLETED_KEY, id)
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
        return { #completed, #dead }
        """

    /// Records a heartbeat. KEYS: workers sorted set, worker hash.
    /// ARGV: worker id, hash TTL (ms), then field/value pairs. Returns the heartbeat time (ms).
    private static let heartbeatBody = """
        local at = now_ms()
        redis.call('ZADD', KEYS[1], int(at), ARGV[1])
        redis.call('HSET', KEYS[2], 'lastHeartbeat', int(at), unpack(ARGV, 3))
        redis.call('PEXPIRE', KEYS[2], ARGV[2])
        return at
        """

    /// Lists workers whose last heartbeat is older than the timeout. KEYS: workers sorted set.
    /// ARGV: timeout (ms).
    private static let lostWorkersBody = """
        local at = now_ms()
        return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. int(at - tonumber(ARGV[1])), 'LIMIT', 0, 100)
        """

    /// Removes a lost worker once its jobs are handed back, unless it came back meanwhile.
    /// KEYS: workers sorted set, worker hash. ARGV: worker id, timeout (ms). Returns 1 if this
    /// call removed it.
    private static let forgetWorkerBody = """
        local at = now_ms()
        local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if seen and tonumber(seen) > at - tonumber(ARGV[2]) then return 0 end
        redis.call('DEL', KEYS[2])
        return redis.call('ZREM', KEYS[1], ARGV[1])
        """
}
