import DroverCore
import DroverRedis

/// Adds members to an open batch and closes it, in one call: each new member is written as
/// `workflow_submit` writes a job (QUEUED, with the batch's callbacks as its children), the
/// callbacks wait for one more parent each, and closing ends the callbacks' wait for the
/// batch's closing, which queues them if every member has ended. The batch's hash keeps its
/// state (`batch`: OPEN or CLOSED), its member count and the `children` value every member
/// gets (`callbacks`).
struct BatchAddFunction: QueueFunction {
    struct Member {
        var id: JobID
        var request: JobRequest
    }

    var queue: String
    var batch: JobID
    var members: [Member]
    var close: Bool
    var defaults: QueueDefaults

    enum Reply: Equatable {
        case added(names: [String], state: BatchState)
        case unknown
        case notOpen
        case alreadyClosed
        case tooMany(members: Int, callbacks: Int)
    }

    static let name = "batch_add"
    static let layout = ArgumentLayout(
        leading: ["batch_id", "close", "max_jobs", "default_max", "default_backoff"],
        perJob: ["id", "job_type", "payload", "max", "backoff", "timeout", "priority"])

    var arguments: [any RedisArgument] {
        Self.layout.encode(
            [batch.rawValue, close ? "1" : "0", WorkflowRequest.maxJobs, defaults.maxAttempts, JobHash.encode(defaults.backoff)],
            jobs: members.map { member in
                let r = member.request
                return [
                    member.id.rawValue, r.type, r.payload, r.maxAttempts.map(String.init) ?? "", r.backoff.map(JobHash.encode) ?? "",
                    r.timeoutMs.map(String.init) ?? "", r.priority.map(String.init) ?? "",
                ]
            })
    }

    func decode(_ reply: RESPValue) throws(RedisError) -> Reply {
        let parts = try reply.elements().map { $0.string ?? $0.int.map(String.init) ?? "" }
        switch parts.first {
        case "UNKNOWN": return .unknown
        case "NOT_OPEN": return .notOpen
        case "CLOSED_ALREADY": return .alreadyClosed
        case "TOO_MANY":
            return .tooMany(members: parts.count > 1 ? Int(parts[1]) ?? 0 : 0, callbacks: parts.count > 2 ? Int(parts[2]) ?? 0 : 0)
        case let state?:
            guard let state = BatchState(rawValue: state) else { throw .unexpectedReply("batch_add returned \(parts)") }
            return .added(names: Array(parts.dropFirst()), state: state)
        case nil: throw .unexpectedReply("batch_add returned nothing")
        }
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        local batch_key = WORKFLOW_PREFIX .. batch_id
        local w = redis.call('HMGET', batch_key, 'batch', 'members', 'callbacks', 'graph', 'cancelledAt', 'finishedAt', 'queue')
        if not w[4] then return { 'UNKNOWN' } end
        local added = (#ARGV - \(layout.first + layout.leading.count) + 1) / \(layout.perJob.count)
        if w[1] ~= 'OPEN' or w[5] or w[6] then
          if added == 0 and w[1] == 'CLOSED' then return { 'CLOSED_ALREADY' } end
          return { 'NOT_OPEN' }
        end
        local members = tonumber(w[2]) or 0
        local callbacks = w[3] or ''
        local callback_ids = {}
        for edge in string.gmatch(callbacks, '%S+') do callback_ids[#callback_ids + 1] = string.match(edge, '^(.*):%a+$') end
        if members + added + #callback_ids > tonumber(max_jobs) then return { 'TOO_MANY', members, #callback_ids } end
        local out = { close == '1' and 'CLOSED' or 'OPEN' }
        if added > 0 then
          local defaults = workflow_defaults(default_max, default_backoff)
          local names, entries = {}, {}
          \(layout.forEachJob)
            members = members + 1
            local name = tostring(members)
            write_workflow_job(defaults, w[7], batch_id, id, name, job_type, payload, max, backoff, timeout, priority, '', callbacks, at)
            names[#names + 1] = name
            entries[#entries + 1] = { name = name, id = id }
            out[#out + 1] = name
          end
          local joined = table.concat(names, ' ')
          local is_callback = {}
          for _, callback in ipairs(callback_ids) do
            is_callback[callback] = true
            local c = load(callback, FIELD.parents, FIELD.waitingFor)
            if c.state == 'WAITING' then
              redis.call('HSET', c.key, FIELD.waitingFor, int((tonumber(c.waitingFor) or 0) + added),
                FIELD.parents, c.parents and (c.parents .. ' ' .. joined) or joined)
            end
          end
          -- The graph keeps members first, then the callbacks, which depend on every member.
          local graph, rewritten, tail = cjson.decode(w[4]), {}, {}
          for _, entry in ipairs(graph) do
            if is_callback[entry.id] then
              entry.dependsOn = entry.dependsOn or {}
              for _, name in ipairs(names) do entry.dependsOn[#entry.dependsOn + 1] = name end
              tail[#tail + 1] = entry
            else
              rewritten[#rewritten + 1] = entry
            end
          end
          for _, entry in ipairs(entries) do rewritten[#rewritten + 1] = entry end
          for _, entry in ipairs(tail) do rewritten[#rewritten + 1] = entry end
          redis.call('HSET', batch_key, 'members', int(members), 'graph', cjson.encode(rewritten))
          redis.call('HINCRBY', batch_key, 'size', added)
          redis.call('HINCRBY', batch_key, 'unfinished', added)
        end
        if close == '1' then
          redis.call('HSET', batch_key, 'batch', 'CLOSED', 'closedAt', NOW_TEXT)
          for _, callback in ipairs(callback_ids) do parent_ended(callback, '\(BatchRequest.openParent)', nil, nil) end
        end
        return out
        """
}
