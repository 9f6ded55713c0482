import DroverCore
import DroverRedis

// The history of each queue's lifetime counters behind the dashboard's chart.
extension RedisJobStore {
    public func throughput(since: Int64?) async throws -> [QueueThroughput] {
        let queues = try await self.queues()
        // Scores are seconds; `(s` excludes the second of `since` itself.
        let low = since.map { "(" + String($0 / 1000) } ?? "-inf"
        let replies = try await redis.pipeline(queues.map { RedisCommand("ZRANGEBYSCORE", keys.queue($0).throughput, low, "+inf") })
        return try zip(queues, replies).map { queue, reply in
            QueueThroughput(
                queue: queue, samples: try reply.elements().compactMap(\.string).compactMap(ThroughputSampleFunction.decodeSample))
        }
    }

    public func sampleThroughput() async throws {
        let queues = try await self.queues()
        guard !queues.isEmpty else { return }
        _ = try await run(queues.map { ThroughputSampleFunction(queue: $0) })
    }
}
