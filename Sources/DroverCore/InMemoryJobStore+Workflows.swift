import Foundation

// Workflows and effect ledgers, as the Redis store's workflow functions keep them.
extension InMemoryJobStore {
    /// A workflow's record: the Redis store's `drover:{q}:workflow:<id>` hash.
    struct WorkflowRecord {
        var queue: String
        var name: String?
        var createdAt: Int64
        var finishedAt: Int64?
        var cancelledAt: Int64?
        var graph: [WorkflowPlan.GraphEntry]
        var unfinished: Int
        /// Set when the last job ends: a retention later the record is gone.
        var expiresAt: Int64?
        /// For a batch: its state, its members' count and the edges every member has.
        var batch: BatchState?
        var members = 0
        var callbacks: [(id: JobID, policy: ParentFailurePolicy)] = []
    }

    /// A workflow job's edges: the Redis store's `parents`, `children` and `parent:<name>` fields.
    struct WorkflowEdges {
        var parents: [String]
        /// Edges not yet told of the job's end.
        var children: [(id: JobID, policy: ParentFailurePolicy)]
        var parentResults: [String: String] = [:]
        var failedParents: [String: ParentFailure] = [:]
    }

    public func submitWorkflow(_ request: WorkflowRequest) async throws -> SubmittedWorkflow {
        let plan = try WorkflowPlan(request, limits: limits)
        write(plan)
        return plan.submitted
    }

    /// Writes a checked workflow (or batch): jobs without parents QUEUED, the others WAITING.
    func write(_ plan: WorkflowPlan) {
        let at = clock()
        for job in plan.jobs { writeWorkflowJob(job, workflow: plan.id, at: at) }
        workflows[plan.id] = WorkflowRecord(
            queue: plan.request.queue, name: plan.request.name, createdAt: at, graph: plan.graph, unfinished: plan.jobs.count,
            batch: plan.batch, members: plan.jobs.count - plan.batchCallbacks.count, callbacks: plan.batchCallbacks)
        wakeQueue(plan.request.queue)
    }

    func writeWorkflowJob(_ job: WorkflowPlan.Job, workflow: JobID, at: Int64) {
        let r = job.request
        let queueDefaults = queueState[r.queue]?.defaults ?? defaults
        jobs[job.id] = Job(
            id: job.id, queue: r.queue, type: r.type, payload: r.payload, state: .submitted,
            maxAttempts: r.maxAttempts ?? queueDefaults.maxAttempts, backoff: r.backoff ?? queueDefaults.backoff,
            timeoutMs: r.timeoutMs, priority: r.priority ?? queueDefaults.priority,
            timestamps: [JobState.submitted.timestampField: at], history: [JobTransition(state: .submitted, at: at, attempt: 0)],
            workflow: WorkflowMembership(workflow: workflow, name: job.name, waitingFor: job.parents.count))
        workflowEdges[job.id] = WorkflowEdges(parents: job.parents, children: job.children)
        count(.submitted, queue: r.queue, type: r.type)
        if job.parents.isEmpty {
            move(job.id, to: .queued, at: at)
            makeReady(job.id, queue: r.queue)
        } else {
            move(job.id, to: .waiting, at: at)
            queueState[r.queue, default: QueueState()].waiting[job.id] = at
        }
    }

    public func workflow(_ id: JobID, queue: String?) async throws -> WorkflowStatus? {
        if let queue { try Names.validateQueue(queue) }
        guard let record = liveWorkflow(id), queue == nil || record.queue == queue else { return nil }
        return WorkflowStatus(
            id: id, queue: record.queue, name: record.name, createdAt: record.createdAt, finishedAt: record.finishedAt,
            cancelledAt: record.cancelledAt, batch: record.batch,
            jobs: record.graph.map { entry in
                let job = jobs[entry.id]
                return WorkflowStatus.Job(
                    name: entry.name, id: entry.id, state: job?.state, dependsOn: entry.dependsOn, attempt: job?.attempt ?? 0,
                    error: job?.error)
            })
    }

    public func cancelWorkflow(_ id: JobID, queue: String?) async throws -> WorkflowCancelOutcome {
        if let queue { try Names.validateQueue(queue) }
        guard let record = liveWorkflow(id), queue == nil || record.queue == queue else { throw JobError.unknownWorkflow(id) }
        if workflows[id]!.cancelledAt == nil { workflows[id]!.cancelledAt = clock() }
        var outcome = WorkflowCancelOutcome(cancelled: 0, stopping: 0)
        // Children first, so no cancel queues a job through a `continue` edge.
        for entry in record.graph.reversed() {
            guard let state = jobs[entry.id]?.state, state.canMove(to: .cancelled) else { continue }
            switch try await cancel(entry.id, queue: record.queue) {
            case .cancelled: outcome.cancelled += 1
            case .stopping: outcome.stopping += 1
            }
        }
        return outcome
    }

    public func recordEffect(_ lease: JobLease, step: String, value: String, worker: String) async throws -> EffectRecord {
        try Names.validateWorkerID(worker)
        try Names.validateEffectStep(step)
        try JSONText.validate(value, field: "effect value")
        guard holds(lease, worker: worker, states: [.running]) else {
            guard case .stale(let current) = stale(lease.id, queue: lease.queue) else { return .stale(current: nil) }
            return .stale(current: current)
        }
        if let recorded = jobs[lease.id]!.effects[step] { return .recorded(recorded) }
        jobs[lease.id]!.effects[step] = value
        return .recorded(value)
    }

    /// The record, unless it has expired.
    func liveWorkflow(_ id: JobID) -> WorkflowRecord? {
        guard let record = workflows[id] else { return nil }
        if let expires = record.expiresAt, expires <= clock() {
            workflows[id] = nil
            return nil
        }
        return record
    }

    /// A workflow job ended in `state` (nil: a dead one deleted, already counted): its children
    /// are told as their edges say, and its workflow counts it. Children that end in turn are
    /// told here too, one after another.
    func workflowJobEnded(_ id: JobID, state: JobState?) {
        var pending: [(JobID, JobState?)] = [(id, state)]
        while !pending.isEmpty {
            let (id, state) = pending.removeFirst()
            guard let job = jobs[id], let membership = job.workflow else { continue }
            let at = clock()
            var kept: [(id: JobID, policy: ParentFailurePolicy)] = []
            for edge in workflowEdges[id]?.children ?? [] {
                if state == .completed || (edge.policy == .continue && state != nil) {
                    let failure = state == .completed ? nil : state.map { ParentFailure(state: $0, error: job.error) }
                    parentEnded(edge.id, parent: membership.name, result: state == .completed ? job.result : nil, failure: failure, at: at)
                } else if edge.policy == .wait && state == .deadLetter {
                    kept.append(edge)
                } else if jobs[edge.id]?.state == .waiting {
                    let reason = "parent \(membership.name) " + (state.map { "ended \($0.rawValue)" } ?? "was deleted")
                    queueState[job.queue]!.waiting[edge.id] = nil
                    endCancelled(edge.id, at: at, worker: nil, error: reason, telling: false)
                    pending.append((edge.id, .cancelled))
                }
            }
            workflowEdges[id]?.children = kept
            guard state != nil, var record = workflows[membership.workflow] else { continue }
            record.unfinished -= 1
            if record.unfinished == 0 {
                record.finishedAt = at
                record.expiresAt = at + max(retention.completed, retention.deadLetterMaxAge).milliseconds
            }
            workflows[membership.workflow] = record
        }
    }

    /// One parent fewer for a WAITING job to wait for (`parent`: its name, or a batch's
    /// closing); the last one queues it.
    func parentEnded(_ child: JobID, parent: String, result: String?, failure: ParentFailure? = nil, at: Int64) {
        guard var job = jobs[child], job.state == .waiting, var membership = job.workflow else { return }
        if let result { workflowEdges[child]?.parentResults[parent] = result }
        if let failure { workflowEdges[child]?.failedParents[parent] = failure }
        membership.waitingFor -= 1
        job.workflow = membership
        jobs[child] = job
        guard membership.waitingFor == 0 else { return }
        queueState[job.queue]!.waiting[child] = nil
        move(child, to: .queued, at: at)
        makeReady(child, queue: job.queue)
        wakeQueue(job.queue)
    }

    /// A dead letter retried: its workflow has one unfinished job again (an expired workflow's
    /// job runs on its own).
    func workflowJobRetried(_ id: JobID) {
        guard let membership = jobs[id]?.workflow else { return }
        guard liveWorkflow(membership.workflow) != nil else {
            jobs[id]!.workflow = nil
            workflowEdges[id] = nil
            return
        }
        workflows[membership.workflow]!.unfinished += 1
        workflows[membership.workflow]!.finishedAt = nil
        workflows[membership.workflow]!.expiresAt = nil
    }
}
