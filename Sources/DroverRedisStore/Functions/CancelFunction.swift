import DroverCore
import DroverRedis

/// SCHEDULED, WAITING, QUEUED, RETRY_QUEUED or ASSIGNED → CANCELLED at once, the id taken out of
/// where it waited. A RUNNING job is marked instead and its worker told on the cancel channel;
/// the worker's next report (or the reaper, if the worker is gone) ends it CANCELLED.
struct CancelFunction: QueueFunction {
    enum Reply: Equatable {
        case cancelled
        case stopping(worker: String?)
        case missing
        case illegal(from: JobState?)
    }

    var queue: String
    var id: JobID

    static let name = "cancel"
    static let layout = ArgumentLayout(leading: ["id"])

    var arguments: [any RedisArgument] { Self.layout.encode([id.rawValue]) }

    func decode(_ reply: RESPValue) throws(RedisError) -> Reply {
        let parts = try reply.elements().compactMap(\.string)
        switch parts.first {
        case "CANCELLED": return .cancelled
        case "STOPPING": return .stopping(worker: parts.count > 1 && !parts[1].isEmpty ? parts[1] : nil)
        case "ILLEGAL": return .illegal(from: parts.count > 1 ? JobState(rawValue: parts[1]) : nil)
        default: return .missing
        }
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        local j = load(id, unpack(CANCELLING))
        if not j.state then return { 'MISSING' } end
        if not legal(j.state, 'CANCELLED') then return { 'ILLEGAL', j.state } end
        return { cancel_job(j, at), j.worker or '' }
        """

    /// The prelude's `cancel_job`, which cancelling a workflow uses too.
    static let helpers = """
        -- What `cancel_job` reads of a job besides what `load` always does.
        local CANCELLING = { FIELD.runAt }
        for i = 1, #ENDING do CANCELLING[i + 1] = ENDING[i] end

        -- Cancels a job that may be cancelled (see `legal`), loaded with CANCELLING: 'CANCELLED',
        -- or 'STOPPING' for a RUNNING job, which its worker is told to stop.
        local function cancel_job(j, at)
          if j.state == 'RUNNING' then
            if not j.cancelRequestedAt then redis.call('HSET', j.key, FIELD.cancelRequestedAt, NOW_TEXT) end
            redis.call('PUBLISH', CANCEL_CHANNEL, j.id .. ' ' .. (j.worker or ''))
            return 'STOPPING'
          end
          if j.state == 'SCHEDULED' then
            redis.call('ZREM', SCHEDULED_KEY, j.id)
          elseif j.state == 'RETRY_QUEUED' then
            redis.call('ZREM', RETRY_KEY, j.id)
          elseif j.state == 'WAITING' then
            redis.call('ZREM', WAITING_KEY, j.id)
          elseif j.state == 'QUEUED' then
            -- From the end workers take from, where a job about to run is. An id a blocking
            -- fetch has moved already is dropped by the claim, which finds the job CANCELLED.
            -- A prioritized job's wake-up stays behind; a claim drops it.
            if redis.call('ZREM', PRIORITIZED_KEY, j.id) == 0 and redis.call('LREM', QUEUED_KEY, -1, j.id) == 0 then
              redis.call('LREM', PAUSED_KEY, -1, j.id)
            end
          elseif j.state == 'ASSIGNED' then
            -- Taken but not started: the worker's start is refused by fencing.
            redis.call('LREM', ACTIVE_PREFIX .. (j.worker or ''), 1, j.id)
            redis.call('PUBLISH', CANCEL_CHANNEL, j.id .. ' ' .. (j.worker or ''))
          end
          return end_cancelled(j, at, tonumber(j.attempt) or 0, nil, nil)
        end
        """
}
