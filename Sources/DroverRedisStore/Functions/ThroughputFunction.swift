import DroverCore
import DroverRedis

/// Samples a queue's lifetime counters for the current second of Redis's clock into
/// `drover:{q}:throughput`, unless a sample of that second is there already (another master
/// took it), and drops samples older than the window. Every master calls it each second, so
/// the history has one sample a second while any master runs, the same for all of them.
struct ThroughputSampleFunction: QueueFunction {
    var queue: String

    static let name = "throughput_sample"
    static let layout = ArgumentLayout(leading: ["window"])

    var arguments: [any RedisArgument] { Self.layout.encode([ThroughputSample.windowSeconds]) }

    func decode(_ reply: RESPValue) throws(RedisError) {
        _ = try reply.throwingServerError()
    }

    static let body = """
        now_ms()
        \(layout.bindLeading)
        local key = BASE_KEY .. '\(QueueFunctionKeys.suffix(of: \.throughput))'
        local second = math.floor(NOW / 1000)
        if redis.call('ZCOUNT', key, second, second) > 0 then return 0 end
        local c = redis.call('HMGET', STATS_KEY, \(ThroughputSample.counters.map { "COUNTER.\($0.rawValue)" }.joined(separator: ", ")))
        redis.call('ZADD', key, second, string.format('%d:%s:%s:%s', second, c[1] or '0', c[2] or '0', c[3] or '0'))
        redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (second - tonumber(window)))
        return 1
        """

    /// A member written by ``body``: `<second>:<completed>:<failed>:<deadLettered>`.
    static func decodeSample(_ member: String) -> ThroughputSample? {
        let parts = member.split(separator: ":").compactMap { Int64($0) }
        guard parts.count == 4 else { return nil }
        return ThroughputSample(at: parts[0] * 1000, completed: Int(parts[1]), failed: Int(parts[2]), deadLettered: Int(parts[3]))
    }
}
