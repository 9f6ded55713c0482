import DroverCore
import DroverRedis

// Upgrading from before Redis Cluster support, when the keys of no queue had no hash tag.
extension RedisJobStore {
    /// Moves the queue registry (`drover:queues`) and the cron registry (`drover:cron`) of an
    /// older version to their tagged names, once per store, before either is first read; an
    /// old `drover:workers` goes (workers beat into the new one, old worker hashes expire).
    /// Any number of stores may race through it: every step is a union.
    func moveLegacyKeys() async throws {
        guard !legacyKeysMoved.withLock({ $0 }) else { return }
        let found = try await redis.pipeline([
            RedisCommand("SMEMBERS", keys.legacyQueues), RedisCommand("HGETALL", keys.legacyCronSchedules),
            RedisCommand("EXISTS", keys.legacyWorkers),
        ])
        let queues = try found[0].throwingServerError().array?.compactMap(\.string) ?? []
        let schedules = JobHash.fields(try found[1].throwingServerError())
        var moves: [RedisCommand] = []
        if !queues.isEmpty {
            moves += [RedisCommand("SADD", [keys.queues] + queues), RedisCommand("DEL", keys.legacyQueues)]
        }
        // A name registered since under the new key keeps its newer queue.
        moves += schedules.sorted { $0.key < $1.key }.map { RedisCommand("HSETNX", keys.cronSchedules, $0.key, $0.value) }
        if !schedules.isEmpty { moves.append(RedisCommand("DEL", keys.legacyCronSchedules)) }
        if try found[2].throwingServerError().int == 1 { moves.append(RedisCommand("DEL", keys.legacyWorkers)) }
        for reply in try await redis.pipeline(moves) { _ = try reply.throwingServerError() }
        if !moves.isEmpty {
            logger.notice(
                "moved the registries of an older version to their new keys",
                metadata: ["queues": "\(queues.count)", "schedules": "\(schedules.count)"])
        }
        legacyKeysMoved.withLock { $0 = true }
    }
}
