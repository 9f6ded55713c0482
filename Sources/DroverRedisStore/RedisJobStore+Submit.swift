import DroverCore
import DroverRedis

// Submitting jobs.
extension RedisJobStore {
    public func submit(_ requests: [JobRequest]) async throws -> [SubmittedJob] {
        for request in requests { try request.validate(limits: configuration.limits) }
        guard !requests.isEmpty else { return [] }
        // One function call per queue, all in one pipeline.
        var order: [String] = []
        var byQueue: [String: [(index: Int, job: SubmitFunction.Job)]] = [:]
        for (index, request) in requests.enumerated() {
            if byQueue[request.queue] == nil { order.append(request.queue) }
            byQueue[request.queue, default: []].append((index, SubmitFunction.Job(id: JobID(), request: request)))
        }
        let newQueues = registeredQueues.withLock { known in order.filter { !known.contains($0) } }
        if !newQueues.isEmpty {
            // The queue is registered before its first job lands, so the reaper and promoter,
            // which walk `drover:queues`, never miss a job.
            try await redis.send(RedisCommand("SADD", [keys.queues] + newQueues))
            registeredQueues.withLock { $0.formUnion(newQueues) }
        }
        let calls = order.map { queue in
            SubmitFunction(
                queue: queue, jobs: byQueue[queue]!.map(\.job), defaults: configuration.defaults,
                idempotencyWindow: configuration.retention.idempotencyWindow)
        }
        var results = [SubmittedJob?](repeating: nil, count: requests.count)
        for (queue, answers) in zip(order, try await run(calls)) {
            for (entry, answer) in zip(byQueue[queue]!, answers) {
                results[entry.index] = SubmittedJob(id: answer.id, queue: queue, created: answer.created)
            }
        }
        return results.map { $0! }
    }
}
