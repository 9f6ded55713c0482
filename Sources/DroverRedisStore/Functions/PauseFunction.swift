import DroverCore
import DroverRedis

/// Pauses or resumes a queue. No job of a paused queue is claimed, while submits, retries and
/// delayed jobs still arrive and wait QUEUED. Pausing renames the ready line to the paused
/// line, where no fetch looks, so idle workers stay blocked instead of polling; resuming
/// renames it back, which wakes them.
struct PauseFunction: QueueFunction {
    var queue: String
    var pause: Bool

    static let name = "pause"
    static let layout = ArgumentLayout(leading: ["pause"])

    var arguments: [any RedisArgument] { Self.layout.encode([pause ? "1" : "0"]) }

    func decode(_ reply: RESPValue) throws(RedisError) {
        _ = try reply.throwingServerError()
    }

    static let body = """
        now_ms()
        \(layout.bindLeading)
        local from, to = QUEUED_KEY, PAUSED_KEY
        if pause == '1' then
          if paused() then return 'OK' end
          redis.call('HSET', CONFIG_KEY, 'paused', NOW_TEXT)
        else
          if not paused() then return 'OK' end
          redis.call('HDEL', CONFIG_KEY, 'paused')
          from, to = PAUSED_KEY, QUEUED_KEY
        end
        if redis.call('EXISTS', to) == 0 then
          if redis.call('EXISTS', from) == 1 then redis.call('RENAME', from, to) end
        else
          -- Both lines exist only if something pushed past the pause (the functions of an
          -- older version, during an upgrade): `from`'s ids join the front, in their order.
          while redis.call('LMOVE', from, to, 'LEFT', 'RIGHT') do end
        end
        return 'OK'
        """
}
