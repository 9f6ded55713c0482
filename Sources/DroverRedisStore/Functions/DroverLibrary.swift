import DroverCore
import DroverRedis

/// Every Lua function of the Redis store, in one library loaded once per Redis (see
/// ``RedisFunctionLibrary``): the prelude below, then each function's body. Each function is
/// one atomic step of the job lifecycle.
///
/// Functions read the clock with Redis's `TIME`, so every timestamp, due time and heartbeat
/// comes from one clock whatever the machines'. A function checks everything before its
/// first write: Redis does not roll back a function that fails half-way, so a refused move
/// must leave no trace.
enum DroverLibrary {
    /// Every function, in the order they are registered.
    static let functions: [any StoreFunction.Type] = [
        SubmitFunction.self, ClaimFunction.self, StartFunction.self, CompleteFunction.self, FailFunction.self,
        ReapFunction.self, ReconcileFunction.self, PromoteFunction.self, RetryDeadFunction.self, TrimFunction.self,
        HeartbeatFunction.self, LostWorkersFunction.self, SilentWorkerFunction.self, CancelFunction.self,
        PauseFunction.self,
        LimitsFunction.self, FireFunction.self, CronEditFunction.self, WorkflowSubmitFunction.self, WorkflowCancelFunction.self,
        EffectFunction.self, BatchAddFunction.self, ThroughputSampleFunction.self,
    ]

    static let library = RedisFunctionLibrary(
        prefix: "drover",
        body: prelude
            + functions.map { "register('\($0.name)', function()\n\($0.body)\nend, \($0 is any QueueFunction.Type))\n" }.joined())

    private static let byName: [String: RedisFunction] = Dictionary(
        uniqueKeysWithValues: functions.map { ($0.name, library.function($0.name)) })

    static func function<F: StoreFunction>(_ type: F.Type) -> RedisFunction { byName[F.name]! }

    /// Names the Lua code takes from Swift, so the two cannot disagree: the state machine
    /// (``JobState``), the job-hash fields (``JobField``), the counters (``JobCounter``) and the
    /// run-time buckets.
    static let generatedTables: String = {
        func table(_ name: String, _ entries: [(String, String)]) -> String {
            "local \(name) = {\n" + entries.map { "  \($0.0) = \($0.1)," }.joined(separator: "\n") + "\n}\n"
        }
        let legal = JobState.allCases.map { state in
            (state.rawValue, "{ " + state.legalNextStates.map(\.rawValue).sorted().map { "\($0) = true" }.joined(separator: ", ") + " }")
        }
        return table("LEGAL", legal)
            + table("AT", JobState.allCases.map { ($0.rawValue, "'\($0.timestampField)'") })
            + table("FIELD", JobField.allCases.map { ($0.rawValue, "'\($0.rawValue)'") })
            + table("COUNTER", JobCounter.allCases.map { ($0.rawValue, "'\($0.rawValue)'") })
            + table("QUEUE_COUNTER", QueueCounter.allCases.map { ($0.rawValue, "'\($0.rawValue)'") })
            + table("GAUGES", JobGauges.states.map { ($0.rawValue, "true") })
            + "local RUNTIME_BUCKETS = { \(RuntimeHistogram.bucketsMs.map(String.init).joined(separator: ", ")) }\n"
            + "local RUNTIME_LABELS = { \(RuntimeHistogram.bucketsMs.map { "'\($0)'" }.joined(separator: ", ")) }\n"
    }()

    static let prelude = """
        -- The call in progress: its keys and arguments, bound to names by `begin` (functions run
        -- one at a time, so these are the current call's until it returns).
        local KEYS, ARGV
        \(QueueFunctionKeys.declarations)        \(generatedTables)
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

        -- The arguments from `first` on, `size` at a time (one group per job).
        local function groups(first, size)
          local a = first - size
          return function()
            a = a + size
            if a > #ARGV then return nil end
            return unpack(ARGV, a, a + size - 1)
          end
        end

        local function legal(from, to)
          return LEGAL[from] ~= nil and LEGAL[from][to] == true
        end

        -- Counter increments are gathered here and written once per field when the function
        -- ends: a batch of jobs costs one HINCRBY per counter, and a gauge that goes up and down
        -- again in one call costs nothing.
        local STATS
        local function bump(field, n)
          STATS[field] = (STATS[field] or 0) + (n or 1)
        end
        local function flush_stats()
          for field, n in pairs(STATS) do
            if n ~= 0 then redis.call('HINCRBY', STATS_KEY, field, int(n)) end
          end
        end

        -- A job as one function works on it: the fields it reads, read in one HMGET, and the
        -- history it appends to, written back with the state in one HSET per transition. Every
        -- function reads state, worker, attempt, type and the history; `...` names the rest.
        -- What a function that may end a job reads besides (`fail`, `end_cancelled`, `finished`
        -- and `advance` look at them), passed as `load(id, …, unpack(ENDING))`; a claim or a
        -- start does without.
        local ENDING = { FIELD.cancelRequestedAt, FIELD.uniqueKey, FIELD.concurrencySlot, FIELD.workflow, FIELD.workflowJob,
          FIELD.children }
        local function load(id, ...)
          local job_key = JOB_PREFIX .. id
          local values = redis.call('HMGET', job_key, FIELD.state, FIELD.worker, FIELD.attempt, FIELD.type, FIELD.history,
            FIELD.historyLength, ...)
          local j = { id = id, key = job_key, state = values[1] or nil, worker = values[2] or nil, attempt = values[3] or nil,
            type = values[4] or nil, history = values[5] or nil, historyLength = tonumber(values[6]) or 0 }
          local more = { ... }
          for i = 1, #more do j[more[i]] = values[6 + i] or nil end
          return j
        end

        -- Lifetime counters, per queue and per queue and job type: `completed` and
        -- `completed:<type>`. Metrics read them, so every process's work is counted once.
        local function count(counter, j)
          bump(counter)
          bump(counter .. ':' .. (j.type or 'unknown'))
        end

        -- Run times of completed jobs as histogram buckets, `runtime:<type>:<le ms>` (each run
        -- counted in its own bucket only), with `runtimeSum:<type>` in milliseconds.
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

        \(LimitsFunction.helpers)
        \(CronEditFunction.helpers)
        -- The only place a job's state changes: through each state of `path` in turn (each
        -- move checked and recorded; `err` goes with the first), then one HSET of the final
        -- state, its timestamps, the history and the `extra` field/value pairs.
        local function advance(j, path, at, attempt, worker, err, extra)
          local fields = {}
          -- Leaving ASSIGNED or RUNNING for good gives a concurrency slot back.
          if j.concurrencySlot and (j.state == 'ASSIGNED' or j.state == 'RUNNING') and path[#path] ~= 'RUNNING' then
            free_slot(j)
          end
          for step, to in ipairs(path) do
            if not legal(j.state, to) then
              error('drover: illegal transition ' .. tostring(j.state) .. ' -> ' .. to .. ' for ' .. j.key)
            end
            if GAUGES[j.state] then bump(j.state, -1) end
            if GAUGES[to] then bump(to, 1) end
            record(j, to, at, attempt, worker, step == 1 and err or nil)
            if to == 'RUNNING' then count(COUNTER.started, j) end
            fields[#fields + 1] = AT[to]
            fields[#fields + 1] = int(at)
            j.state = to
          end
          fields[#fields + 1] = FIELD.state
          fields[#fields + 1] = j.state
          fields[#fields + 1] = FIELD.history
          fields[#fields + 1] = j.history
          fields[#fields + 1] = FIELD.historyLength
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
        -- `states.repeated` names the state the report itself leads to: the same report again
        -- (its first reply was lost) is answered as the first was, and changes nothing.
        local function held(id, states, worker, attempt, ...)
          local j = load(id, ...)
          if j.worker == worker and tonumber(j.attempt) == attempt and j.state then
            if states[j.state] then return j, nil end
            if states.repeated == j.state then return nil, j.state end
          end
          count(COUNTER.staleReports, j)
          return nil, 'STALE ' .. (j.state or 'MISSING')
        end

        -- Whether the queue is paused, read once per call. Workers block on QUEUED_KEY, so a
        -- paused queue keeps its ready ids under PAUSED_KEY, where no fetch looks.
        local PAUSED
        local function paused()
          if PAUSED == nil then PAUSED = redis.call('HEXISTS', CONFIG_KEY, 'paused') == 1 end
          return PAUSED
        end

        -- Puts an id where workers take it from: at the back of the line, or with `next` at
        -- the end taken first (a job handed back keeps its turn).
        local function enqueue(id, next)
          redis.call(next and 'RPUSH' or 'LPUSH', paused() and PAUSED_KEY or QUEUED_KEY, id)
        end

        -- In the ready line, a wake-up for a job of PRIORITIZED_KEY: workers block on the list
        -- only, so each prioritized job pushes one, and a claim that meets one takes the best
        -- prioritized job instead (or drops it, if others took them all). Counted in stats, so
        -- the queue's count of QUEUED jobs can leave them out.
        local MARKER = '*'
        local MARKERS = 'wakeMarkers'

        -- Puts a QUEUED job in its line: by priority (j.priority, 0 when absent), FIFO within
        -- one. `next` puts it first among its equals.
        local function enqueue_job(j, next)
          local priority = tonumber(j.priority) or 0
          if priority <= 0 then return enqueue(j.id, next) end
          redis.call('ZADD', PRIORITIZED_KEY, string.format('%d', (9 - priority) * 10000000000000 + (next and 0 or NOW)), j.id)
          enqueue(MARKER)
          bump(MARKERS)
        end

        -- Defined with the workflow helpers below (it cancels jobs, and cancelling ends here).
        local workflow_job_ended

        -- A job has ended (COMPLETED, DEAD_LETTER, CANCELLED): its unique key, if it holds one,
        -- is free again, waiters are told, and so are a workflow job's children.
        local function finished(j, state)
          if j.uniqueKey and redis.call('GET', UNIQUE_PREFIX .. j.uniqueKey) == j.id then
            redis.call('DEL', UNIQUE_PREFIX .. j.uniqueKey)
          end
          redis.call('PUBLISH', FINISHED_CHANNEL, j.id .. ' ' .. state)
          if j.workflow then workflow_job_ended(j, state) end
        end

        -- Adds `id` to a sorted set of due times (SCHEDULED_KEY or RETRY_KEY). When it is the
        -- set's new first, promoters are told, so they wake for it instead of at their interval.
        local function add_due(set_key, due, id)
          local first = redis.call('ZRANGE', set_key, 0, 0, 'WITHSCORES')
          redis.call('ZADD', set_key, int(due), id)
          if not first[2] or due < tonumber(first[2]) then redis.call('PUBLISH', DUE_CHANNEL, int(due)) end
        end

        -- Ends a job CANCELLED: its id goes into the cancelled set (the janitor removes it after
        -- the retention of finished jobs) and waiters are told.
        local function end_cancelled(j, at, attempt, worker, err, extra)
          move(j, 'CANCELLED', at, attempt, worker, err, extra)
          if j.runAt then redis.call('HDEL', j.key, FIELD.runAt) end
          redis.call('ZADD', CANCELLED_KEY, int(at), j.id)
          count(COUNTER.cancelled, j)
          j.error = err
          finished(j, 'CANCELLED')
          return 'CANCELLED'
        end

        -- FAILED, then RETRY_QUEUED or DEAD_LETTER by the rule of Swift's `Attempts`: retried
        -- while attempts are left (attempt - attemptBase < maxAttempts), or always when the
        -- failure was not the job's own. A job whose cancel was asked for ends CANCELLED
        -- instead: the failure is how its worker stopped it. `j` must hold attemptBase and
        -- maxAttempts. Returns the state the job ends in.
        local function fail(j, at, attempt, worker, err, delay_ms, always_retry)
          if j.cancelRequestedAt then return end_cancelled(j, at, attempt, worker, err, { FIELD.error, err }) end
          count(COUNTER.failed, j)
          local used = attempt - tonumber(j.attemptBase or 0)
          if always_retry or used < tonumber(j.maxAttempts) then
            local due = at + delay_ms
            advance(j, { 'FAILED', 'RETRY_QUEUED' }, at, attempt, worker, err, { FIELD.error, err, FIELD.runAt, int(due) })
            add_due(RETRY_KEY, due, j.id)
            count(COUNTER.retried, j)
            return 'RETRY_QUEUED'
          end
          advance(j, { 'FAILED', 'DEAD_LETTER' }, at, attempt, worker, err, { FIELD.error, err })
          redis.call('ZADD', DEAD_KEY, int(at), j.id)
          count(COUNTER.deadLettered, j)
          j.error = err
          finished(j, 'DEAD_LETTER')
          return 'DEAD_LETTER'
        end

        \(WorkflowSubmitFunction.helpers)
        \(CancelFunction.helpers)
        -- Removes a finished job for good: its hash and its idempotency key. A dead workflow job
        -- whose children wait for its retry cancels them: it will not come back.
        local function delete_job(id)
          local job_key = JOB_PREFIX .. id
          local values = redis.call('HMGET', job_key, FIELD.idempotencyKey, FIELD.children, FIELD.workflowJob, FIELD.workflow)
          local key = values[1]
          if key and redis.call('GET', IDEMPOTENCY_PREFIX .. key) == id then
            redis.call('DEL', IDEMPOTENCY_PREFIX .. key)
          end
          if values[2] then
            workflow_job_ended({ id = id, key = job_key, children = values[2], workflowJob = values[3], workflow = values[4] }, 'DELETED')
          end
          redis.call('DEL', job_key)
        end

        -- Binds a queue function's call (see QueueFunction in Swift); other functions read
        -- KEYS and ARGV themselves.
        local function begin(keys, args, queue_function)
          KEYS, ARGV = keys, args
          STATS, PAUSED = {}, nil
          if not queue_function then return end
        \(QueueFunctionKeys.bindings)
        end

        -- Every function: bind the call, run the body, write the counters it gathered.
        local function register(name, body, queue_function)
          redis.register_function(LIBRARY .. '_' .. name, function(keys, args)
            begin(keys, args, queue_function)
            local result = body()
            flush_stats()
            return result
          end)
        end

        """
}
