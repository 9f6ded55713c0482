// Batches, as the Redis store's `batch_add` function keeps them.
extension InMemoryJobStore {
    public func createBatch(_ request: BatchRequest) async throws -> SubmittedWorkflow {
        let plan = try WorkflowPlan(request, limits: limits)
        write(plan)
        return plan.submitted
    }

    public func addToBatch(_ id: JobID, queue: String?, jobs requests: [JobRequest], close: Bool) async throws -> BatchAddition {
        if let queue { try Names.validateQueue(queue) }
        guard var record = liveWorkflow(id), queue == nil || record.queue == queue else { throw JobError.unknownWorkflow(id) }
        let requests = try BatchRequest.addition(requests, queue: record.queue, limits: limits)
        guard record.batch == .open, record.cancelledAt == nil else {
            // Closing twice is no error; adding to a closed batch is.
            if requests.isEmpty, record.batch == .closed { return BatchAddition(jobs: [:], batch: .closed) }
            throw JobError.batchClosed(id)
        }
        try BatchRequest.refuseOversized(members: record.members, callbacks: record.callbacks.count, added: requests.count)
        let names = BatchRequest.memberNames(from: record.members, count: requests.count)
        let at = clock()
        var added: [String: JobID] = [:]
        for (name, request) in zip(names, requests) {
            let job = WorkflowPlan.Job(name: name, id: JobID(), request: request, parents: [], children: record.callbacks)
            writeWorkflowJob(job, workflow: id, at: at)
            added[name] = job.id
            record.graph.insert(WorkflowPlan.GraphEntry(name: name, id: job.id, dependsOn: []), at: record.members)
            record.members += 1
            record.unfinished += 1
            for callback in record.callbacks {
                guard let entry = record.graph.firstIndex(where: { $0.id == callback.id }) else { continue }
                record.graph[entry].dependsOn.append(name)
                self.jobs[callback.id]?.workflow?.waitingFor += 1
            }
        }
        if close { record.batch = .closed }
        workflows[id] = record
        if close {
            for callback in record.callbacks { parentEnded(callback.id, parent: BatchRequest.openParent, result: nil, at: at) }
        }
        wakeQueue(record.queue)
        return BatchAddition(jobs: added, batch: record.batch ?? .closed)
    }
}
