/// A set of jobs with dependencies, submitted and written as one: a directed acyclic graph
/// whose nodes are jobs of one queue and whose edges say "run after". A job with parents waits
/// WAITING until each has ended; the call that completes its last parent queues it.
///
/// ```swift
/// let etl = try WorkflowRequest(queue: "etl", name: "nightly", jobs: [
///     WorkflowJob(name: "extract", job: JobRequest(queue: "etl", type: "extract")),
///     WorkflowJob(name: "clean", job: JobRequest(queue: "etl", type: "clean"), dependsOn: ["extract"]),
///     WorkflowJob(name: "load", job: JobRequest(queue: "etl", type: "load"), dependsOn: ["clean"]),
/// ])
/// ```
///
/// Every job of a workflow lives in its queue: the queue's keys share one Redis Cluster slot,
/// so completing a parent and queueing its children is one atomic call.
public struct WorkflowRequest: Sendable, Hashable {
    public var queue: String
    /// A label for people (shown by `drover workflow status`); not unique.
    public var name: String?
    /// In any order; ``validate(limits:)`` checks the graph.
    public var jobs: [WorkflowJob]
    /// What a job does when a parent ends without completing, unless its edge says otherwise.
    public var onParentFailure: ParentFailurePolicy

    /// The most jobs one workflow may have: enough for a wide fan-out, small enough that the
    /// submit stays one bounded call.
    public static let maxJobs = 10_000

    public init(queue: String = "default", name: String? = nil, jobs: [WorkflowJob], onParentFailure: ParentFailurePolicy = .wait) {
        self.queue = queue
        self.name = name
        self.jobs = jobs
        self.onParentFailure = onParentFailure
    }

    /// Checks every job and the graph, without touching a store, and returns the jobs'
    /// indices in an order where each comes after its parents. Throws
    /// ``JobError/invalidWorkflow(_:)`` for an empty or oversized graph, a repeated or unknown
    /// name, a cycle, or a job with options a workflow job cannot have.
    public func validate(limits: SubmitLimits) throws(JobError) -> [Int] {
        try Names.validateQueue(queue)
        if let name { try Names.validateWorkflowLabel(name) }
        guard !jobs.isEmpty else { throw .invalidWorkflow("a workflow needs at least one job") }
        guard jobs.count <= Self.maxJobs else { throw .invalidWorkflow("\(jobs.count) jobs, over the limit of \(Self.maxJobs)") }
        var index: [String: Int] = [:]
        for (i, job) in jobs.enumerated() {
            try Names.validateWorkflowJob(job.name)
            guard index.updateValue(i, forKey: job.name) == nil else { throw .invalidWorkflow("two jobs are named '\(job.name)'") }
            try job.validate(queue: queue, limits: limits)
        }
        // Kahn's algorithm: a job is placed once every parent is; what is left is on a cycle.
        var unmet = jobs.map(\.dependsOn.count)
        var children = Array(repeating: [Int](), count: jobs.count)
        for (i, job) in jobs.enumerated() {
            var seen: Set<String> = []
            for parent in job.dependsOn.map(\.parent) {
                guard seen.insert(parent).inserted else { throw .invalidWorkflow("'\(job.name)' depends on '\(parent)' twice") }
                guard let p = index[parent] else {
                    throw .invalidWorkflow("'\(job.name)' depends on '\(parent.prefix(80))', which is not a job of the workflow")
                }
                guard p != i else { throw .invalidWorkflow("'\(job.name)' depends on itself") }
                children[p].append(i)
            }
        }
        var order = jobs.indices.filter { unmet[$0] == 0 }
        var next = 0
        while next < order.count {
            for child in children[order[next]] {
                unmet[child] -= 1
                if unmet[child] == 0 { order.append(child) }
            }
            next += 1
        }
        guard order.count == jobs.count else {
            let onCycle = jobs.indices.filter { unmet[$0] > 0 }.prefix(5).map { "'\(jobs[$0].name)'" }
            throw .invalidWorkflow("the dependencies form a cycle (through \(onCycle.joined(separator: ", ")))")
        }
        return order
    }

    /// The policy of the edge from `parent` into `job`.
    public func policy(of edge: WorkflowEdge) -> ParentFailurePolicy { edge.onParentFailure ?? onParentFailure }
}

/// One job of a workflow.
public struct WorkflowJob: Sendable, Hashable {
    /// Unique within the workflow; children name their parents by it, and read their results
    /// by it.
    public var name: String
    /// What to run. Its queue is the workflow's; idempotency keys, unique locks and delays
    /// belong to single jobs and are refused here.
    public var job: JobRequest
    public var dependsOn: [WorkflowEdge]

    public init(name: String, job: JobRequest, dependsOn: [WorkflowEdge] = []) {
        self.name = name
        self.job = job
        self.dependsOn = dependsOn
    }

    func validate(queue: String, limits: SubmitLimits) throws(JobError) {
        guard job.queue == queue else {
            throw .invalidWorkflow("'\(name)' is for queue '\(job.queue)'; every job of a workflow runs in its queue '\(queue)'")
        }
        for (option, set) in [
            ("idempotencyKey", job.idempotencyKey != nil), ("unique", job.unique != nil), ("delayMs/runAt", job.start != nil),
        ]
        where set {
            throw .invalidWorkflow("'\(name)' has \(option), which a job of a workflow cannot have")
        }
        try job.validate(limits: limits)
    }
}

/// A dependency: the job runs after `parent` ends.
public struct WorkflowEdge: Sendable, Hashable, ExpressibleByStringLiteral {
    public var parent: String
    /// `nil` takes the workflow's ``WorkflowRequest/onParentFailure``.
    public var onParentFailure: ParentFailurePolicy?

    public init(_ parent: String, onParentFailure: ParentFailurePolicy? = nil) {
        self.parent = parent
        self.onParentFailure = onParentFailure
    }

    public init(stringLiteral parent: String) { self.init(parent) }
}

/// What a job does when a parent ends DEAD_LETTER or CANCELLED instead of COMPLETED.
public enum ParentFailurePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// The job stays WAITING until an operator retries the dead parent, which then goes on as
    /// if it had never failed; nothing of the workflow is lost meanwhile. A CANCELLED parent
    /// cannot come back, so it cancels the job as ``cancel`` does.
    case wait
    /// The job ends CANCELLED at once, and so do its descendants that follow the same rule.
    case cancel
    /// The job runs anyway, without that parent's result.
    case `continue`
}

/// The answer to a workflow submit.
public struct SubmittedWorkflow: Sendable, Hashable, Codable {
    public var id: JobID
    public var queue: String
    /// Each job's id, by its name in the workflow.
    public var jobs: [String: JobID]

    public init(id: JobID, queue: String, jobs: [String: JobID]) {
        self.id = id
        self.queue = queue
        self.jobs = jobs
    }
}

/// A workflow job's place in its workflow, as its job records it.
public struct WorkflowMembership: Sendable, Hashable, Codable {
    /// The workflow's id.
    public var workflow: JobID
    /// The job's name in the workflow.
    public var name: String
    /// Parents that have not ended yet, while the job is WAITING.
    public var waitingFor: Int

    public init(workflow: JobID, name: String, waitingFor: Int = 0) {
        self.workflow = workflow
        self.name = name
        self.waitingFor = waitingFor
    }
}

/// A checked workflow ready to write: ids given, jobs parents first, every edge known at both
/// of its ends. Both stores write from it, so they agree on what a workflow is.
public struct WorkflowPlan: Sendable {
    public struct Job: Sendable {
        public var name: String
        public var id: JobID
        public var request: JobRequest
        public var parents: [String]
        /// Each child's id and the policy of the edge into it.
        public var children: [(id: JobID, policy: ParentFailurePolicy)]
    }

    /// One job of the graph as the store keeps it for status and cancelling.
    public struct GraphEntry: Sendable, Hashable, Codable {
        public var name: String
        public var id: JobID
        public var dependsOn: [String]

        public init(name: String, id: JobID, dependsOn: [String]) {
            self.name = name
            self.id = id
            self.dependsOn = dependsOn
        }

        private enum CodingKeys: String, CodingKey { case name, id, dependsOn }

        // Lua's cjson writes an empty array as `{}`, so a job without parents leaves the field
        // out when a function rewrites the graph (adding to a batch).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                name: try c.decode(String.self, forKey: .name), id: try c.decode(JobID.self, forKey: .id),
                dependsOn: try c.decodeIfPresent([String].self, forKey: .dependsOn) ?? [])
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(id, forKey: .id)
            if !dependsOn.isEmpty { try c.encode(dependsOn, forKey: .dependsOn) }
        }
    }

    public let id: JobID
    public let request: WorkflowRequest
    /// Parents first.
    public internal(set) var jobs: [Job]
    /// For a batch: whether it is open, and its callbacks with the policy of their edges, the
    /// `children` every member gets.
    public internal(set) var batch: BatchState?
    public internal(set) var batchCallbacks: [(id: JobID, policy: ParentFailurePolicy)] = []

    public init(_ request: WorkflowRequest, limits: SubmitLimits) throws(JobError) {
        let order = try request.validate(limits: limits)
        let ids = request.jobs.map { _ in JobID() }
        let index = Dictionary(uniqueKeysWithValues: request.jobs.enumerated().map { ($1.name, $0) })
        var children = Array(repeating: [(id: JobID, policy: ParentFailurePolicy)](), count: request.jobs.count)
        for (i, job) in request.jobs.enumerated() {
            for edge in job.dependsOn { children[index[edge.parent]!].append((ids[i], request.policy(of: edge))) }
        }
        self.id = JobID()
        self.request = request
        self.jobs = order.map { i in
            let job = request.jobs[i]
            return Job(name: job.name, id: ids[i], request: job.job, parents: job.dependsOn.map(\.parent), children: children[i])
        }
    }

    /// The real edges: an open batch's callbacks wait for its closing too, which is no job.
    public var graph: [GraphEntry] {
        jobs.map { GraphEntry(name: $0.name, id: $0.id, dependsOn: $0.parents.filter { $0 != BatchRequest.openParent }) }
    }

    public var submitted: SubmittedWorkflow {
        SubmittedWorkflow(id: id, queue: request.queue, jobs: Dictionary(uniqueKeysWithValues: jobs.map { ($0.name, $0.id) }))
    }
}
