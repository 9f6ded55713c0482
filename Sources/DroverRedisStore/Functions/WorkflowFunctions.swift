import DroverCore
import DroverRedis

/// Writes a whole workflow in one call: each job SUBMITTED, then QUEUED if it has no parents
/// or WAITING (in `drover:{q}:waiting`) until they end, and the workflow's hash
/// `drover:{q}:workflow:<id>` with its graph. Swift has checked the graph; every edge is
/// written on both of its ends, the parent's `children` and the child's `parents` and
/// `waitingFor`, so that a job that ends finds its children in its own hash.
struct WorkflowSubmitFunction: QueueFunction {
    struct Job {
        var id: JobID
        var name: String
        var request: JobRequest
        var parents: [String]
        /// `<id>:<policy>` per child.
        var children: [String]
    }

    var queue: String
    var workflow: JobID
    var name: String?
    /// Each job's name, id and parents, parents first: what `drover workflow status` draws.
    var graph: String
    var jobs: [Job]
    var defaults: QueueDefaults
    /// How long the workflow's hash stays after its last job ended.
    var retention: Duration
    /// For a batch: open or closed, and `<id>:<policy>` per callback.
    var batch: BatchState? = nil
    var callbacks: [String] = []

    static let name = "workflow_submit"
    static let layout = ArgumentLayout(
        leading: ["queue", "workflow_id", "label", "graph", "retention", "default_max", "default_backoff", "batch", "callbacks"],
        perJob: ["id", "job_name", "job_type", "payload", "max", "backoff", "timeout", "priority", "parents", "children"])

    var arguments: [any RedisArgument] {
        Self.layout.encode(
            [
                queue, workflow.rawValue, name ?? "", graph, retention.milliseconds, defaults.maxAttempts,
                JobHash.encode(defaults.backoff), batch?.rawValue ?? "", callbacks.joined(separator: " "),
            ],
            jobs: jobs.map { job in
                let r = job.request
                return [
                    job.id.rawValue, job.name, r.type, r.payload, r.maxAttempts.map(String.init) ?? "",
                    r.backoff.map(JobHash.encode) ?? "", r.timeoutMs.map(String.init) ?? "", r.priority.map(String.init) ?? "",
                    job.parents.joined(separator: " "), job.children.joined(separator: " "),
                ]
            })
    }

    func decode(_ reply: RESPValue) throws(RedisError) {
        _ = try reply.throwingServerError()
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        local defaults = workflow_defaults(default_max, default_backoff)
        local size = 0
        \(layout.forEachJob)
          size = size + 1
          write_workflow_job(defaults, queue, workflow_id, id, job_name, job_type, payload, max, backoff, timeout, priority, parents, children, at)
        end
        local workflow = { 'id', workflow_id, 'queue', queue, 'createdAt', int(at), 'size', int(size), 'unfinished', int(size),
          'retentionMs', retention, 'graph', graph }
        if label ~= '' then
          workflow[#workflow + 1] = 'name'
          workflow[#workflow + 1] = label
        end
        if batch ~= '' then
          -- A batch's members are the jobs that are not callbacks; each new one gets `callbacks`
          -- as its children.
          local callback_count = 0
          for _ in string.gmatch(callbacks, '%S+') do callback_count = callback_count + 1 end
          for _, field in ipairs({ 'batch', batch, 'members', int(size - callback_count), 'callbacks', callbacks }) do
            workflow[#workflow + 1] = field
          end
        end
        redis.call('HSET', WORKFLOW_PREFIX .. workflow_id, unpack(workflow))
        return size
        """

    /// The prelude's workflow helpers: writing a workflow's jobs (for `workflow_submit` and
    /// `batch_add`), and how a job that ends tells its children and its workflow in the call
    /// that ends it. After `end_cancelled`, which they use and which uses them (through
    /// `finished`).
    static let helpers = """
        -- The queue's defaults for a workflow's jobs, the caller's when the queue has none; sets
        -- PAUSED for `enqueue_job`.
        local function workflow_defaults(default_max, default_backoff)
          local config = redis.call('HMGET', CONFIG_KEY, 'maxAttempts', 'backoff', 'paused', 'priority')
          PAUSED = config[3] ~= false
          return { max = config[1] or default_max, backoff = config[2] or default_backoff, priority = config[4] or '0' }
        end

        -- Writes one job of a workflow of `queue` SUBMITTED, then QUEUED if it has no parents, or WAITING
        -- (in WAITING_KEY) for `parents` (space-separated names) to end.
        local function write_workflow_job(defaults, queue, workflow_id, id, job_name, job_type, payload, max, backoff, timeout, priority,
            parents, children, at)
          if max == '' then max = defaults.max end
          if backoff == '' then backoff = defaults.backoff end
          if priority == '' then priority = defaults.priority end
          local j = { id = id, key = JOB_PREFIX .. id, type = job_type, historyLength = 0 }
          local at_text = int(at)
          record(j, 'SUBMITTED', at, 0, nil, nil)
          j.state = 'SUBMITTED'
          local extra = { FIELD.id, id, FIELD.queue, queue, FIELD.type, job_type, FIELD.payload, payload, FIELD.attempt, '0',
            FIELD.attemptBase, '0', FIELD.maxAttempts, max, FIELD.backoff, backoff, AT.SUBMITTED, at_text,
            FIELD.workflow, workflow_id, FIELD.workflowJob, job_name }
          if priority ~= '0' then
            j.priority = priority
            extra[#extra + 1] = FIELD.priority
            extra[#extra + 1] = priority
          end
          if timeout ~= '' then
            extra[#extra + 1] = FIELD.timeoutMs
            extra[#extra + 1] = timeout
          end
          if children ~= '' then
            extra[#extra + 1] = FIELD.children
            extra[#extra + 1] = children
          end
          count(COUNTER.submitted, j)
          if parents == '' then
            move(j, 'QUEUED', at, 0, nil, nil, extra)
            enqueue_job(j)
            return
          end
          local waiting_for = 0
          for _ in string.gmatch(parents, '%S+') do waiting_for = waiting_for + 1 end
          extra[#extra + 1] = FIELD.parents
          extra[#extra + 1] = parents
          extra[#extra + 1] = FIELD.waitingFor
          extra[#extra + 1] = int(waiting_for)
          move(j, 'WAITING', at, 0, nil, nil, extra)
          redis.call('ZADD', WAITING_KEY, at_text, id)
        end

        -- One parent fewer to wait for (a batch's closing counts as one), with its result if it
        -- completed or how it ended if it did not: the last one queues the job. A job no longer
        -- WAITING (cancelled meanwhile) is left as it is.
        local function parent_ended(child_id, parent, result, failure)
          local c = load(child_id, FIELD.waitingFor, FIELD.priority)
          if c.state ~= 'WAITING' then return end
          local left = (tonumber(c.waitingFor) or 1) - 1
          local fields = { FIELD.waitingFor, int(left) }
          if result then fields[3], fields[4] = 'parent:' .. parent, result end
          if failure then fields[3], fields[4] = 'failed:' .. parent, failure end
          if left > 0 then
            redis.call('HSET', c.key, unpack(fields))
            return
          end
          redis.call('ZREM', WAITING_KEY, child_id)
          move(c, 'QUEUED', NOW, 0, nil, nil, fields)
          enqueue_job(c)
        end

        -- A WAITING job that is not to run: CANCELLED, and through `finished` its own children
        -- are told in turn.
        local function cancel_waiting(child_id, reason)
          local c = load(child_id, unpack(ENDING))
          if c.state ~= 'WAITING' then return end
          redis.call('ZREM', WAITING_KEY, child_id)
          end_cancelled(c, NOW, 0, nil, reason, { FIELD.error, reason })
        end

        -- Tells the children of `j`, which ended in `state` (or was deleted), each as its edge's
        -- policy says. An edge that waits for an operator to retry a dead parent is kept for the
        -- parent's next end; the others are done with.
        local function release_children(j, state)
          local kept = {}
          local reason = 'parent ' .. (j.workflowJob or '?') .. (state == 'DELETED' and ' was deleted' or (' ended ' .. state))
          for edge in string.gmatch(j.children, '%S+') do
            local child, policy = string.match(edge, '^(.*):(%a+)$')
            if state == 'COMPLETED' then
              parent_ended(child, j.workflowJob, j.result, nil)
            elseif policy == 'continue' and state ~= 'DELETED' then
              parent_ended(child, j.workflowJob, nil, j.error and (state .. ' ' .. j.error) or state)
            elseif policy == 'wait' and state == 'DEAD_LETTER' then
              kept[#kept + 1] = edge
            else
              cancel_waiting(child, reason)
            end
          end
          if #kept > 0 then
            redis.call('HSET', j.key, FIELD.children, table.concat(kept, ' '))
          elseif state ~= 'DELETED' then
            redis.call('HDEL', j.key, FIELD.children)
          end
        end

        -- Jobs whose end is still to be told to their children and workflow: one after another,
        -- not nested, however deep a cascade of cancels goes.
        local CASCADE, CASCADING = {}, false

        -- A workflow job ended in `state` (COMPLETED, DEAD_LETTER, CANCELLED; DELETED for a dead
        -- one trimmed, whose workflow counted it already): its children are told, and its
        -- workflow, whose last unfinished job it may have been, counts it.
        workflow_job_ended = function(j, state)
          CASCADE[#CASCADE + 1] = { j, state }
          if CASCADING then return end
          CASCADING = true
          local i = 1
          while CASCADE[i] do
            local job, ended = CASCADE[i][1], CASCADE[i][2]
            i = i + 1
            if job.children then release_children(job, ended) end
            if ended ~= 'DELETED' then
              local workflow_key = WORKFLOW_PREFIX .. job.workflow
              local left = redis.call('HINCRBY', workflow_key, 'unfinished', -1)
              if left < 0 then
                -- The workflow's hash had expired: the count just made is no workflow's.
                redis.call('DEL', workflow_key)
              elseif left == 0 then
                redis.call('HSET', workflow_key, 'finishedAt', NOW_TEXT)
                local retention = redis.call('HGET', workflow_key, 'retentionMs')
                if retention then redis.call('PEXPIRE', workflow_key, retention) end
              end
            end
          end
          CASCADE, CASCADING = {}, false
        end
        """
}

/// Cancels every unfinished job of a workflow, children before parents (so no cancel queues
/// a job through a `continue` edge): what `cancel_job` does to each.
struct WorkflowCancelFunction: QueueFunction {
    var queue: String
    var workflow: JobID

    static let name = "workflow_cancel"
    static let layout = ArgumentLayout(leading: ["workflow_id"])

    var arguments: [any RedisArgument] { Self.layout.encode([workflow.rawValue]) }

    /// `nil` when there is no such workflow.
    func decode(_ reply: RESPValue) throws(RedisError) -> WorkflowCancelOutcome? {
        let parts = try reply.elements().map { $0.int ?? 0 }
        guard parts.count == 2, parts[0] >= 0 else { return nil }
        return WorkflowCancelOutcome(cancelled: parts[0], stopping: parts[1])
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        local workflow_key = WORKFLOW_PREFIX .. workflow_id
        local graph = redis.call('HGET', workflow_key, 'graph')
        if not graph then return { -1, 0 } end
        redis.call('HSETNX', workflow_key, 'cancelledAt', NOW_TEXT)
        local jobs = cjson.decode(graph)
        local cancelled, stopping = 0, 0
        for i = #jobs, 1, -1 do
          local j = load(jobs[i].id, unpack(CANCELLING))
          if j.state and legal(j.state, 'CANCELLED') then
            if cancel_job(j, at) == 'STOPPING' then stopping = stopping + 1 else cancelled = cancelled + 1 end
          end
        end
        return { cancelled, stopping }
        """
}

/// Records one step of a running job's effect ledger, fenced like a report: only the worker
/// and attempt that hold the job may, and a step recorded already keeps its first result.
struct EffectFunction: QueueFunction {
    var queue: String
    var worker: String?
    var lease: JobLease
    var step: String
    var value: String

    static let name = "effect"
    static let layout = ArgumentLayout(leading: ["worker", "id", "attempt", "step", "value"])

    var arguments: [any RedisArgument] {
        Self.layout.encode([worker ?? "-", lease.id.rawValue, lease.attempt, step, value])
    }

    func decode(_ reply: RESPValue) throws(RedisError) -> EffectRecord {
        let parts = try reply.elements().compactMap(\.string)
        guard parts.count == 2 else { throw .unexpectedReply("effect returned \(parts)") }
        if parts[0] == "RECORDED" { return .recorded(parts[1]) }
        return .stale(current: parts[1].split(separator: " ").dropFirst().first.flatMap { JobState(rawValue: String($0)) })
    }

    static let body = """
        now_ms()
        \(layout.bindLeading)
        local j, refused = held(id, { RUNNING = true }, worker, tonumber(attempt), FIELD.effects)
        if not j then return { 'STALE', refused } end
        local field = 'effect:' .. step
        local recorded = redis.call('HGET', j.key, field)
        if recorded then return { 'RECORDED', recorded } end
        redis.call('HSET', j.key, field, value, FIELD.effects, j.effects and (j.effects .. ' ' .. step) or step)
        return { 'RECORDED', value }
        """
}
