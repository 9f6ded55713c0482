import DroverCore
import DroverRedis

// Submitting jobs.
extension RedisJobStore {
    public func submit(_ requests: [JobRequest]) async throws -> [SubmittedJob] {
        for request in requests { try request.validate(limits: configuration.limits) }
        guard !requests.isEmpty else { return [] }
        // One function call per queue, all in one pipeline.
        let (calls, positions) = Self.byQueue(requests, queue: \.queue) { queue, requests in
            SubmitFunction(
                queue: queue, jobs: requests.map { SubmitFunction.Job(id: JobID(), request: $0) }, defaults: configuration.defaults,
                idempotencyWindow: configuration.retention.idempotencyWindow)
        }
        try await register(queues: calls.map(\.queue))
        var results = [SubmittedJob?](repeating: nil, count: requests.count)
        for (call, (positions, answers)) in zip(calls, zip(positions, try await run(calls))) {
            for (i, answer) in zip(positions, answers) {
                results[i] = SubmittedJob(
                    id: answer.id, queue: call.queue, created: answer.created, state: answer.state, duplicate: answer.duplicate)
            }
        }
        return results.map { $0! }
    }

    /// Registers queues before their first job lands, so the reaper and promoter, which walk
    /// `drover:queues`, never miss a job.
    func register(queues: [String]) async throws {
        let newQueues = registeredQueues.withLock { known in queues.filter { !known.contains($0) } }
        guard !newQueues.isEmpty else { return }
        try await redis.send(RedisCommand("SADD", [keys.queues] + newQueues))
        registeredQueues.withLock { $0.formUnion(newQueues) }
    }

    func register(queue: String) async throws { try await register(queues: [queue]) }
}
