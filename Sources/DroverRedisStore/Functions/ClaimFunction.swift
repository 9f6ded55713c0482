import DroverCore
import DroverRedis

/// QUEUED → ASSIGNED (→ RUNNING when `start`) for the ids a blocking fetch already moved into
/// the worker's active list, then for up to `max` more moved here from the queue, as far as
/// the queue's limits let. Nothing is claimed from a paused queue: the moved ids go back, as
/// do those over the limits.
struct ClaimFunction: QueueFunction {
    var queue: String
    var worker: String?
    var max: Int
    var start: Bool
    /// Ids a finished blocking fetch moved into the worker's active list.
    var moved: [String]

    init(queue: String, worker: String, max: Int, start: Bool, moved: [String]) {
        self.queue = queue
        self.worker = worker
        self.max = max
        self.start = start
        self.moved = moved
    }

    static let name = "claim"
    static let layout = ArgumentLayout(leading: ["worker", "want", "start"], perJob: ["id"])

    var arguments: [any RedisArgument] {
        Self.layout.encode([worker ?? "-", max, start ? "1" : "0"], jobs: moved.map { [$0] })
    }

    /// What the reply carries of each claimed job, in this order.
    static let replyFields: [JobField] = [.id, .state, .attempt, .type, .payload, .maxAttempts, .attemptBase, .backoff, .timeoutMs]

    /// What a claim took, and whether the queue's limits held it back.
    struct Reply {
        var jobs: [ClaimedJob]
        var limited: ClaimLimit?
    }

    func decode(_ reply: RESPValue) throws(RedisError) -> Reply {
        let entries = try reply.elements()
        guard let first = entries.first, let limit = first.int else { throw .unexpectedReply("claim returned \(reply)") }
        var claimed: [ClaimedJob] = []
        for entry in entries.dropFirst() {
            let values = entry.array ?? []
            guard values.count == Self.replyFields.count || values.count == Self.replyFields.count + 1 else {
                throw .unexpectedReply("claim returned \(entry)")
            }
            var f: [JobField: String] = [:]
            for (field, value) in zip(Self.replyFields, values) { f[field] = value.string }
            guard let id = f[.id].flatMap(JobID.init), let state = f[.state].flatMap(JobState.init(rawValue:)) else {
                throw .unexpectedReply("claim returned \(entry)")
            }
            claimed.append(
                ClaimedJob(
                    id: id, queue: queue, type: f[.type] ?? "", payload: f[.payload] ?? "null", state: state,
                    attempt: f[.attempt].flatMap { Int($0) } ?? 1, maxAttempts: f[.maxAttempts].flatMap { Int($0) } ?? 1,
                    attemptBase: f[.attemptBase].flatMap { Int($0) } ?? 0,
                    backoff: f[.backoff].flatMap(JobHash.decodeBackoff) ?? .standard, timeoutMs: f[.timeoutMs].flatMap { Int($0) }))
            if values.count > Self.replyFields.count { Self.addContext(values[Self.replyFields.count], to: &claimed[claimed.count - 1]) }
        }
        return Reply(jobs: claimed, limited: ClaimLimit(code: limit))
    }

    /// The `parent:<name>`, `failed:<name>` and `effect:<step>` pairs a claim sends for a workflow job or one
    /// with an effect ledger.
    static func addContext(_ context: RESPValue, to job: inout ClaimedJob) {
        let flat = (context.array ?? []).compactMap(\.string)
        for i in stride(from: 0, to: flat.count - 1, by: 2) {
            let (field, value) = (flat[i], flat[i + 1])
            if field.hasPrefix("parent:") {
                job.parentResults[String(field.dropFirst("parent:".count))] = value
            } else if field.hasPrefix("failed:"), let failure = ParentFailure(stored: value) {
                job.failedParents[String(field.dropFirst("failed:".count))] = failure
            } else if field.hasPrefix("effect:") {
                job.effects[String(field.dropFirst("effect:".count))] = value
            }
        }
    }

    /// How the queue's limits held a claim back.
    enum ClaimLimit: Equatable {
        /// The rate limit: its next token comes after this long.
        case rate(Duration)
        /// The concurrency limit: a running job of the queue has to end first.
        case concurrency

        /// From the claim's first reply element: 0 for none, -1, or milliseconds.
        init?(code: Int) {
            switch code {
            case 0: return nil
            case ..<0: self = .concurrency
            default: self = .rate(.milliseconds(code))
            }
        }
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        want, start = tonumber(want), start == '1'
        -- Recorded before anything lands in the active list (a blocking fetch follows a claim),
        -- so the reaper finds the list even if the worker vanishes without a heartbeat entry.
        redis.call('SADD', HOLDERS_KEY, worker)
        -- One EXISTS tells whether the queue has prioritized jobs or limits; a plain queue's
        -- claim reads nothing more.
        local prioritized = redis.call('EXISTS', PRIORITIZED_KEY, LIMITS_KEY) > 0
        local limits
        if prioritized then
          limits = claim_limits()
          if limits then prioritized = redis.call('EXISTS', PRIORITIZED_KEY) == 1 end
        end
        local allowance = limits and limits.allowance or math.huge
        local holds_slot = limits and limits.concurrency
        -- out[1] is what the limits say (see the end); the claimed jobs follow.
        local out, taken = { 0 }, 0
        -- Back where the next claim takes first: in the paused line if the queue is paused now.
        local function put_back(id)
          redis.call('LREM', ACTIVE_KEY, 1, id)
          redis.call('RPUSH', paused() and PAUSED_KEY or QUEUED_KEY, id)
        end
        -- A job's parents' results and its recorded effects, as field/value pairs; only jobs of
        -- a workflow or with an effect ledger have any, so a plain job's claim reads nothing more.
        local function handler_context(j)
          local fields = {}
          for name in string.gmatch(j.parents or '', '%S+') do
            fields[#fields + 1] = 'parent:' .. name
            fields[#fields + 1] = 'failed:' .. name
          end
          for step in string.gmatch(j.effects or '', '%S+') do fields[#fields + 1] = 'effect:' .. step end
          local values = redis.call('HMGET', j.key, unpack(fields))
          local context = {}
          for i, field in ipairs(fields) do
            if values[i] then
              context[#context + 1] = field
              context[#context + 1] = values[i]
            end
          end
          return context
        end
        -- `moved`: a fetch moved the id before this call, maybe before a pause.
        local function take(id, moved)
          local j = load(id, FIELD.payload, FIELD.maxAttempts, FIELD.attemptBase, FIELD.backoff, FIELD.timeoutMs, FIELD.parents,
            FIELD.effects)
          if j.state ~= 'QUEUED' then
            -- Nothing to run: the job expired or is held already. Forget the id, unless it is
            -- a job this worker holds (then the list entry is what lets the reaper find it).
            local mine = (j.state == 'ASSIGNED' or j.state == 'RUNNING') and j.worker == worker
            if not mine then redis.call('LREM', ACTIVE_KEY, 1, id) end
            return
          end
          -- Paused after the fetch moved it: back to its turn, unclaimed. (An id this call takes
          -- from QUEUED_KEY needs no look: a paused queue has none.)
          if moved and paused() then return put_back(id) end
          local attempt = tonumber(j.attempt) + 1
          local path = start and { 'ASSIGNED', 'RUNNING' } or { 'ASSIGNED' }
          local extra = { FIELD.attempt, int(attempt), FIELD.worker, worker }
          if holds_slot then
            extra[5], extra[6] = FIELD.concurrencySlot, '1'
          end
          advance(j, path, at, attempt, worker, nil, extra)
          j.attempt = int(attempt)
          taken = taken + 1
          local entry = { \(replyFields.map { "j.\($0.rawValue) or ''" }.joined(separator: ", ")) }
          if j.parents or j.effects then entry[#entry + 1] = handler_context(j) end
          out[taken + 1] = entry
        end
        -- Prioritized jobs go first, ZPOPMIN until the set runs dry.
        local function take_prioritized()
          if not prioritized or paused() then return false end
          local best = redis.call('ZPOPMIN', PRIORITIZED_KEY)
          if not best[1] then
            prioritized = false
            return false
          end
          redis.call('LPUSH', ACTIVE_KEY, best[1])
          take(best[1])
          return true
        end
        local function drop_marker()
          redis.call('LREM', ACTIVE_KEY, 1, MARKER)
          bump(MARKERS, -1)
        end
        local slots = want
        \(layout.forEachJob)
          slots = slots + 1
          if id == MARKER then
            drop_marker()
          elseif taken >= allowance or (prioritized and not paused()) then
            -- Over the queue's limits, or a prioritized job overtakes it.
            put_back(id)
          else
            take(id, true)
          end
        end
        -- Bounded by what the lines hold: each round takes an id out of one of them.
        local room = math.min(slots, allowance)
        while taken < room do
          if not take_prioritized() then
            local id = redis.call('LMOVE', QUEUED_KEY, ACTIVE_KEY, 'RIGHT', 'LEFT')
            if not id then break end
            if id == MARKER then drop_marker() else take(id) end
          end
        end
        if limits then out[1] = settle_limits(limits, taken, allowance < slots and taken >= allowance) end
        return out
        """
}
