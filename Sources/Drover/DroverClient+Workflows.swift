import DroverCore

// Workflows: graphs of jobs with dependencies.
extension DroverClient {
    /// Submits a workflow: the whole graph is checked, then written at once. Jobs without
    /// parents are QUEUED at once, the others WAITING until their parents end.
    @discardableResult
    public func submit(workflow: WorkflowRequest) async throws -> SubmittedWorkflow {
        try await store.submitWorkflow(workflow)
    }

    /// Creates a batch (see ``BatchRequest``): its members QUEUED at once, its callbacks
    /// WAITING until every member has ended (and, for an open batch, until it is closed).
    /// Its id is a workflow's: ``workflow(_:queue:)`` shows it.
    @discardableResult
    public func create(batch: BatchRequest) async throws -> SubmittedWorkflow {
        try await store.createBatch(batch)
    }

    /// Adds members to an open batch, and closes it after them if `close` is set.
    @discardableResult
    public func add(_ jobs: [JobRequest], toBatch id: JobID, queue: String? = nil, close: Bool = false) async throws -> BatchAddition {
        try await store.addToBatch(id, queue: queue, jobs: jobs, close: close)
    }

    /// Closes an open batch: its callbacks run once every member has ended. Closing a closed
    /// batch changes nothing.
    @discardableResult
    public func close(batch id: JobID, queue: String? = nil) async throws -> BatchAddition {
        try await store.addToBatch(id, queue: queue, jobs: [], close: true)
    }

    /// The workflow with every job's state, or `nil`.
    public func workflow(_ id: JobID, queue: String? = nil) async throws -> WorkflowStatus? {
        try await store.workflow(id, queue: queue)
    }

    /// Cancels every unfinished job of the workflow.
    @discardableResult
    public func cancel(workflow id: JobID, queue: String? = nil) async throws -> WorkflowCancelOutcome {
        try await store.cancelWorkflow(id, queue: queue)
    }

    /// Waits until nothing more can happen to the workflow without an operator: every job has
    /// ended, or what is left waits on a dead letter (``WorkflowState/blocked``). Each wait is on
    /// one of its unfinished jobs, woken when it ends, so this does not poll. Returns the
    /// workflow as it is when `timeout` passes.
    public func wait(forWorkflow id: JobID, queue: String? = nil, timeout: Duration) async throws -> WorkflowStatus {
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let status = try await workflow(id, queue: queue) else { throw JobError.unknownWorkflow(id) }
            let left = deadline - .now
            guard status.state == .running, left > .zero else { return status }
            // The job furthest along the graph that has not ended: the last to finish, usually.
            guard let next = status.jobs.last(where: { !($0.state?.isTerminal ?? true) && $0.state != .waiting }) else {
                return status
            }
            _ = try await store.waitUntilFinished(next.id, queue: status.queue, timeout: left)
        }
    }
}
