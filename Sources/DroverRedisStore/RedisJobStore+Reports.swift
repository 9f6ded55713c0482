import DroverCore
import DroverRedis

// A worker's reports, heartbeats and goodbye.
extension RedisJobStore {
    public func start(_ jobs: [JobLease], worker: String) async throws -> [ReportOutcome] {
        try await report(jobs, queue: \.queue) { StartFunction(queue: $0, worker: worker, leases: $1) }
    }

    public func complete(_ reports: [CompletionReport], worker: String) async throws -> [ReportOutcome] {
        try await complete(reports, worker: worker, thenClaim: 0, from: "", start: false).outcomes
    }

    public func complete(_ reports: [CompletionReport], worker: String, thenClaim max: Int, from queue: String, start: Bool)
        async throws -> (outcomes: [ReportOutcome], claimed: [ClaimedJob])
    {
        for report in reports { try JSONText.validate(report.result, field: "result") }
        let retention = configuration.retention.completed
        let (completions, positions) = Self.byQueue(reports, queue: \.lease.queue) {
            CompleteFunction(queue: $0, worker: worker, reports: $1, retention: retention)
        }
        let claim = max > 0 ? claimCall(queue: queue, worker: worker, max: max, start: start) : nil
        var calls = completions.map { $0.call(context) }
        if let claim { calls.append(claim.call(context)) }
        guard !calls.isEmpty else { return ([], []) }
        // The reports and the claim for the slots they free, in one pipeline.
        let replies = try await redis.run(calls)
        let claimed = try claim.map { taken(try $0.decode(replies[replies.count - 1]), worker: worker, queue: queue) } ?? []
        let answers = try zip(completions, replies).map { function, reply throws(RedisError) in try function.decode(reply) }
        return (Self.inOrder(answers, positions, count: reports.count), claimed)
    }

    public func fail(_ reports: [FailureReport], worker: String) async throws -> [ReportOutcome] {
        try await report(reports, queue: \.lease.queue) { FailFunction(queue: $0, worker: worker, reports: $1) }
    }

    /// Sends reports grouped by queue, one function call per queue in one pipeline, and maps
    /// the answers back to the order of `items`.
    private func report<Item, F: ReportFunction>(_ items: [Item], queue: (Item) -> String, function: (String, [Item]) -> F)
        async throws -> [ReportOutcome]
    {
        let (calls, positions) = Self.byQueue(items, queue: queue, function: function)
        return Self.inOrder(try await run(calls), positions, count: items.count)
    }

    private static func inOrder(_ answers: [[ReportOutcome]], _ positions: [[Int]], count: Int) -> [ReportOutcome] {
        var outcomes = [ReportOutcome](repeating: .stale(current: nil), count: count)
        for (positions, answers) in zip(positions, answers) {
            for (i, answer) in zip(positions, answers) { outcomes[i] = answer }
        }
        return outcomes
    }

    public func heartbeat(_ info: WorkerInfo) async throws {
        try Names.validateWorkerID(info.id)
        for queue in info.queues { try Names.validateQueue(queue) }
        // The hash outlives a missed beat or two but not a dead worker by much.
        try await run(HeartbeatFunction(info: info, hashLifetime: .seconds(3600)))
    }

    public func deregister(worker: String) async throws {
        _ = try await redis.pipeline([RedisCommand("ZREM", keys.workers, worker), RedisCommand("DEL", keys.worker(worker))])
        _ = await fetcher.forget(worker: worker)
    }
}
