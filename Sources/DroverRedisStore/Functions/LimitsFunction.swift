import DroverCore
import DroverRedis

/// Sets a queue's rate and concurrency limits (``QueueLimits``), replacing the ones it had, in
/// `drover:{q}:limits`; no limits at all deletes the hash, and claims are back to reading
/// nothing of it. Workers waiting on a limit are told, so a raised limit applies at once.
struct LimitsFunction: QueueFunction {
    var queue: String
    var limits: QueueLimits

    static let name = "limits"
    static let layout = ArgumentLayout(leading: ["rate", "period", "concurrency"])

    var arguments: [any RedisArgument] {
        Self.layout.encode([limits.rate?.count ?? 0, limits.rate?.periodMs ?? 0, limits.concurrency ?? 0])
    }

    func decode(_ reply: RESPValue) throws(RedisError) {
        _ = try reply.throwingServerError()
    }

    static let body = """
        now_ms()
        \(layout.bindLeading)
        rate, period, concurrency = tonumber(rate), tonumber(period), tonumber(concurrency)
        if rate == 0 and concurrency == 0 then
          redis.call('DEL', LIMITS_KEY)
        else
          if rate > 0 then
            -- A new limit starts with a full bucket; a changed one keeps what is left, up to its size.
            local tokens = tonumber(redis.call('HGET', LIMITS_KEY, 'tokens')) or rate
            redis.call('HSET', LIMITS_KEY, 'rate', int(rate), 'ratePeriodMs', int(period),
              'tokens', tostring(math.min(tokens, rate)), 'at', NOW_TEXT)
          else
            redis.call('HDEL', LIMITS_KEY, 'rate', 'ratePeriodMs', 'tokens', 'at')
          end
          if concurrency > 0 then
            redis.call('HSET', LIMITS_KEY, 'concurrency', int(concurrency))
          else
            redis.call('HDEL', LIMITS_KEY, 'concurrency')
          end
        end
        redis.call('PUBLISH', SLOTS_CHANNEL, LIMITS_KEY)
        return 'OK'
        """

    /// The prelude's part for limits: what a claim may start, and the release of a slot.
    static let helpers = """
        -- The queue's limits as a claim sees them (nil without any): how many jobs they let it
        -- start (`allowance`), from the concurrency gauges and the rate bucket refilled to NOW.
        local function claim_limits()
          local v = redis.call('HMGET', LIMITS_KEY, 'rate', 'ratePeriodMs', 'concurrency', 'tokens', 'at')
          local l = { rate = tonumber(v[1]), period = tonumber(v[2]), concurrency = tonumber(v[3]), allowance = math.huge }
          if not l.rate and not l.concurrency then return nil end
          if l.concurrency then
            local held = redis.call('HMGET', STATS_KEY, 'ASSIGNED', 'RUNNING')
            l.free = l.concurrency - (tonumber(held[1]) or 0) - (tonumber(held[2]) or 0)
            l.allowance = math.max(0, l.free)
          end
          if l.rate then
            local tokens, at = tonumber(v[4]) or l.rate, tonumber(v[5]) or NOW
            l.tokens = math.min(l.rate, tokens + math.max(0, NOW - at) * l.rate / l.period)
            l.allowance = math.min(l.allowance, math.floor(l.tokens))
          end
          return l
        end

        -- After a claim that started `n` jobs under limits `l`: the bucket gives up n tokens, and
        -- the answer for the worker: 0 when the limits did not hold it back (`short` is false),
        -- else how long until a token (ms), or -1 to wait until a running job ends.
        local function settle_limits(l, n, short)
          if l.rate and n > 0 then
            l.tokens = l.tokens - n
            redis.call('HSET', LIMITS_KEY, 'tokens', tostring(l.tokens), 'at', NOW_TEXT)
          end
          if not short then return 0 end
          bump(QUEUE_COUNTER.limitedClaims)
          if l.concurrency and l.free - n <= 0 then return -1 end
          return math.max(1, math.ceil((1 - l.tokens) * l.period / l.rate))
        end

        -- A job that held one of its queue's concurrency slots (claimed while the queue had a
        -- concurrency limit) lets it go: workers waiting for a slot are told.
        local function free_slot(j)
          j.concurrencySlot = nil
          redis.call('HDEL', j.key, FIELD.concurrencySlot)
          redis.call('PUBLISH', SLOTS_CHANNEL, LIMITS_KEY)
        end

        """
}
