import DroverCore
import DroverRedis
import Foundation

// Workflows and effect ledgers.
extension RedisJobStore {
    public func submitWorkflow(_ request: WorkflowRequest) async throws -> SubmittedWorkflow {
        try await write(WorkflowPlan(request, limits: configuration.limits))
    }

    public func createBatch(_ request: BatchRequest) async throws -> SubmittedWorkflow {
        try await write(WorkflowPlan(request, limits: configuration.limits))
    }

    public func addToBatch(_ id: JobID, queue: String?, jobs: [JobRequest], close: Bool) async throws -> BatchAddition {
        guard let queue = try await resolveWorkflowQueue(of: id, hint: queue) else { throw JobError.unknownWorkflow(id) }
        let jobs = try BatchRequest.addition(jobs, queue: queue, limits: configuration.limits)
        let members = jobs.map { BatchAddFunction.Member(id: JobID(), request: $0) }
        let reply = try await run(
            BatchAddFunction(queue: queue, batch: id, members: members, close: close, defaults: configuration.defaults))
        switch reply {
        case .added(let names, let state):
            return BatchAddition(jobs: Dictionary(uniqueKeysWithValues: zip(names, members.map(\.id))), batch: state)
        case .alreadyClosed: return BatchAddition(jobs: [:], batch: .closed)
        case .unknown: throw JobError.unknownWorkflow(id)
        case .notOpen: throw JobError.batchClosed(id)
        case .tooMany(let members, let callbacks):
            try BatchRequest.refuseOversized(members: members, callbacks: callbacks, added: jobs.count)
            throw JobError.batchClosed(id)
        }
    }

    /// Writes a checked workflow or batch in one call.
    private func write(_ plan: WorkflowPlan) async throws -> SubmittedWorkflow {
        let graph = String(decoding: try JSONEncoder().encode(plan.graph), as: UTF8.self)
        let retention = configuration.retention
        func edges(_ children: [(id: JobID, policy: ParentFailurePolicy)]) -> [String] {
            children.map { "\($0.id):\($0.policy.rawValue)" }
        }
        try await register(queue: plan.request.queue)
        try await run(
            WorkflowSubmitFunction(
                queue: plan.request.queue, workflow: plan.id, name: plan.request.name, graph: graph,
                jobs: plan.jobs.map {
                    WorkflowSubmitFunction.Job(
                        id: $0.id, name: $0.name, request: $0.request, parents: $0.parents, children: edges($0.children))
                },
                defaults: configuration.defaults, retention: max(retention.completed, retention.deadLetterMaxAge), batch: plan.batch,
                callbacks: edges(plan.batchCallbacks)))
        return plan.submitted
    }

    public func workflow(_ id: JobID, queue: String?) async throws -> WorkflowStatus? {
        guard let queue = try await resolveWorkflowQueue(of: id, hint: queue) else { return nil }
        let q = keys.queue(queue)
        let fields = JobHash.fields(try await redis.send(RedisCommand("HGETALL", q.workflow(id))))
        guard let graphText = fields["graph"],
            let graph = try? JSONDecoder().decode([WorkflowPlan.GraphEntry].self, from: Data(graphText.utf8))
        else { return nil }
        let wanted = [JobField.state, .attempt, .error].map(\.rawValue)
        let replies = try await redis.pipeline(graph.map { RedisCommand("HMGET", [q.job($0.id)] + wanted) })
        let jobs = zip(graph, replies).map { entry, reply in
            let values = (reply.array ?? []).map(\.string)
            func value(_ i: Int) -> String? { i < values.count ? values[i] : nil }
            return WorkflowStatus.Job(
                name: entry.name, id: entry.id, state: value(0).flatMap(JobState.init(rawValue:)), dependsOn: entry.dependsOn,
                attempt: value(1).flatMap { Int($0) } ?? 0, error: value(2))
        }
        return WorkflowStatus(
            id: id, queue: queue, name: fields["name"], createdAt: fields["createdAt"].flatMap { Int64($0) } ?? 0,
            finishedAt: fields["finishedAt"].flatMap { Int64($0) }, cancelledAt: fields["cancelledAt"].flatMap { Int64($0) },
            batch: fields["batch"].flatMap(BatchState.init(rawValue:)), jobs: jobs)
    }

    public func cancelWorkflow(_ id: JobID, queue: String?) async throws -> WorkflowCancelOutcome {
        guard let queue = try await resolveWorkflowQueue(of: id, hint: queue),
            let outcome = try await run(WorkflowCancelFunction(queue: queue, workflow: id))
        else { throw JobError.unknownWorkflow(id) }
        return outcome
    }

    public func recordEffect(_ lease: JobLease, step: String, value: String, worker: String) async throws -> EffectRecord {
        try Names.validateWorkerID(worker)
        try Names.validateEffectStep(step)
        try JSONText.validate(value, field: "effect value")
        return try await run(EffectFunction(queue: lease.queue, worker: worker, lease: lease, step: step, value: value))
    }

    /// The queue a workflow lives in: the hint, else the queue whose workflow hash exists.
    private func resolveWorkflowQueue(of id: JobID, hint: String?) async throws -> String? {
        if let hint {
            try Names.validateQueue(hint)
            return hint
        }
        let queues = try await self.queues()
        guard !queues.isEmpty else { return nil }
        let replies = try await redis.pipeline(queues.map { RedisCommand("EXISTS", keys.queue($0).workflow(id)) })
        return zip(queues, replies).first { $0.1.int == 1 }?.0
    }
}
