import DroverCore
import DroverRedis

/// SCHEDULED, QUEUED, RETRY_QUEUED or ASSIGNED → CANCELLED at once, the id taken out of where
/// it waited. A RUNNING job is marked instead and its worker told on the cancel channel; the
/// worker's next report (or the reaper, if the worker is gone) ends it CANCELLED.
struct CancelFunction: QueueFunction {
    enum Reply: Equatable {
        case cancelled
        case stopping(worker: String?)
        case missing
        case illegal(from: JobState?)
    }

    var queue: String
    var id: JobID
    var activePrefix: String
    var cancelChannel: String

    static let name = "cancel"
    static let layout = ArgumentLayout(leading: ["id", "active_prefix", "cancel_channel"])

    var arguments: [any RedisArgument] { Self.layout.encode([id.rawValue, activePrefix, cancelChannel]) }

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
        local j = load(id, FIELD.runAt, unpack(ENDING))
        if not j.state then return { 'MISSING' } end
        if not legal(j.state, 'CANCELLED') then return { 'ILLEGAL', j.state } end
        if j.state == 'RUNNING' then
          if not j.cancelRequestedAt then redis.call('HSET', j.key, FIELD.cancelRequestedAt, NOW_TEXT) end
          redis.call('PUBLISH', cancel_channel, id .. ' ' .. (j.worker or ''))
          return { 'STOPPING', j.worker or '' }
        end
        if j.state == 'SCHEDULED' then
          redis.call('ZREM', SCHEDULED_KEY, id)
        elseif j.state == 'RETRY_QUEUED' then
          redis.call('ZREM', RETRY_KEY, id)
        elseif j.state == 'QUEUED' then
          -- From the end workers take from, where a job about to run is. An id a blocking
          -- fetch has moved already is dropped by the claim, which finds the job CANCELLED.
          -- A prioritized job's wake-up stays behind; a claim drops it.
          if redis.call('ZREM', PRIORITIZED_KEY, id) == 0 and redis.call('LREM', QUEUED_KEY, -1, id) == 0 then
            redis.call('LREM', PAUSED_KEY, -1, id)
          end
        elseif j.state == 'ASSIGNED' then
          -- Taken but not started: the worker's start is refused by fencing.
          redis.call('LREM', active_prefix .. (j.worker or ''), 1, id)
          redis.call('PUBLISH', cancel_channel, id .. ' ' .. (j.worker or ''))
        end
        end_cancelled(j, at, tonumber(j.attempt) or 0, nil, nil)
        return { 'CANCELLED' }
        """
}
