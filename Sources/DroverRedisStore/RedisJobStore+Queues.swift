import DroverCore
import DroverRedis

// Settings of whole queues: retry defaults, pause and resume, limits.
extension RedisJobStore {
    public func setDefaults(_ defaults: QueueDefaults, queue: String) async throws {
        try Names.validateQueue(queue)
        try defaults.validate()
        try await redis.send(
            RedisCommand(
                "HSET", keys.queue(queue).config, "maxAttempts", defaults.maxAttempts, "backoff", JobHash.encode(defaults.backoff),
                "priority", defaults.priority))
    }

    public func pause(queue: String) async throws {
        try await knownQueue(queue)
        try await run(PauseFunction(queue: queue, pause: true))
    }

    public func resume(queue: String) async throws {
        try await knownQueue(queue)
        try await run(PauseFunction(queue: queue, pause: false))
    }

    public func setLimits(_ limits: QueueLimits, queue: String) async throws {
        let limits = try limits.validated()
        try await knownQueue(queue)
        try await run(LimitsFunction(queue: queue, limits: limits))
        // This store's own waiters need not wait for the announcement to come back.
        fetcher.limitsEased(limitsKey: keys.queue(queue).limits)
    }

    /// Refuses a queue no job was ever submitted to: pausing a misspelt name would otherwise
    /// look like it worked while the real queue runs on.
    private func knownQueue(_ queue: String) async throws {
        try Names.validateQueue(queue)
        try await moveLegacyKeys()
        let reply = try await redis.send(RedisCommand("SISMEMBER", keys.queues, queue))
        guard reply.int == 1 else { throw JobError.unknownQueue(queue) }
    }
}
