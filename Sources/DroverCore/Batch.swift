/// A group of independent jobs with callbacks that run once every member has ended: Sidekiq's
/// batches, built as a workflow whose callback jobs depend on every member.
///
/// ```swift
/// let batch = BatchRequest(
///     queue: "mail", name: "newsletter",
///     jobs: subscribers.map { JobRequest(queue: "mail", type: "send", payload: $0) },
///     onComplete: JobRequest(queue: "mail", type: "report"))
/// ```
///
/// Members are named `1`, `2`, … in the order they were added; a callback reads their results
/// (``ClaimedJob/parentResults``) and failures (``ClaimedJob/failedParents``) by those names.
/// Because the callbacks are ordinary WAITING jobs queued by the call that ends the last
/// member, each runs once however many workers finish members at the same moment.
public struct BatchRequest: Sendable, Hashable {
    public var queue: String
    /// A label for people; not unique.
    public var name: String?
    /// The members; more can be added while the batch is ``open``.
    public var jobs: [JobRequest]
    /// Runs once every member has ended, whatever each ended in.
    public var onComplete: JobRequest?
    /// Runs once every member has completed. A dead member holds it until an operator retries
    /// the member; a cancelled one (or a dead one whose record is trimmed) cancels it.
    public var onSuccess: JobRequest?
    /// An open batch holds its callbacks, even with every member ended, until it is closed
    /// (``JobStore/addToBatch(_:queue:jobs:close:)``): the way to build a batch from jobs that
    /// themselves add members.
    public var open: Bool

    /// The callbacks' names in the batch's workflow.
    public static let onCompleteName = "onComplete"
    public static let onSuccessName = "onSuccess"
    /// The parent an open batch's callbacks wait for besides the members: the batch's closing.
    /// Not a valid job name, so no member can be called so.
    public static let openParent = "(open)"

    public init(
        queue: String = "default", name: String? = nil, jobs: [JobRequest], onComplete: JobRequest? = nil,
        onSuccess: JobRequest? = nil, open: Bool = false
    ) {
        self.queue = queue
        self.name = name
        self.jobs = jobs
        self.onComplete = onComplete
        self.onSuccess = onSuccess
        self.open = open
    }

    /// Each callback's name, request and the policy of its edges from the members.
    public var callbacks: [(name: String, job: JobRequest, policy: ParentFailurePolicy)] {
        var out: [(name: String, job: JobRequest, policy: ParentFailurePolicy)] = []
        if let onComplete { out.append((Self.onCompleteName, onComplete, .continue)) }
        if let onSuccess { out.append((Self.onSuccessName, onSuccess, .wait)) }
        return out
    }

    /// The batch as the workflow the stores write. Throws ``JobError/invalidWorkflow(_:)`` for
    /// a batch without callbacks, without members (unless open), or over the size limit.
    public func workflow() throws(JobError) -> WorkflowRequest {
        guard onComplete != nil || onSuccess != nil else { throw .invalidWorkflow("a batch needs onComplete, onSuccess or both") }
        guard open || !jobs.isEmpty else { throw .invalidWorkflow("a closed batch needs at least one job") }
        let members = Self.memberNames(from: 0, count: jobs.count)
        let memberJobs = zip(members, jobs).map { WorkflowJob(name: $0, job: $1) }
        let callbackJobs = callbacks.map { callback in
            WorkflowJob(
                name: callback.name, job: callback.job, dependsOn: members.map { WorkflowEdge($0, onParentFailure: callback.policy) })
        }
        // Checked here as well as by the workflow's validation, to name the limit on members.
        guard memberJobs.count + callbackJobs.count <= WorkflowRequest.maxJobs else {
            throw .invalidWorkflow("\(jobs.count) jobs, over a batch's limit of \(WorkflowRequest.maxJobs - callbackJobs.count)")
        }
        return WorkflowRequest(queue: queue, name: name, jobs: memberJobs + callbackJobs)
    }

    /// Members are numbered from 1, in the order they were added.
    public static func memberNames(from existing: Int, count: Int) -> [String] {
        (0..<count).map { String(existing + $0 + 1) }
    }
}

/// Whether a batch can still be added to.
public enum BatchState: String, Sendable, Hashable, Codable {
    /// Members can be added; the callbacks wait for the batch to be closed.
    case open = "OPEN"
    case closed = "CLOSED"
}

/// What adding to a batch did.
public struct BatchAddition: Sendable, Hashable, Codable {
    /// The new members' ids, by their names.
    public var jobs: [String: JobID]
    /// The batch's state after the call.
    public var batch: BatchState

    public init(jobs: [String: JobID], batch: BatchState) {
        self.jobs = jobs
        self.batch = batch
    }
}

/// How a parent that did not complete ended, as a child that runs anyway (edge policy
/// ``ParentFailurePolicy/continue``, such as a batch's `onComplete`) sees it.
public struct ParentFailure: Sendable, Hashable, Codable {
    /// DEAD_LETTER or CANCELLED.
    public var state: JobState
    public var error: String?

    public init(state: JobState, error: String?) {
        self.state = state
        self.error = error
    }

    /// From the child's hash (`failed:<name>`, written by the Lua that ends the parent): the
    /// state, a space, the error.
    public init?(stored: String) {
        let parts = stored.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard let state = parts.first.flatMap({ JobState(rawValue: String($0)) }) else { return nil }
        self.init(state: state, error: parts.count > 1 ? String(parts[1]) : nil)
    }
}

extension WorkflowPlan {
    /// A batch's plan: its workflow's, with an open batch's callbacks also waiting for the
    /// batch to close.
    public init(_ batch: BatchRequest, limits: SubmitLimits) throws(JobError) {
        try self.init(batch.workflow(), limits: limits)
        let callbackNames = Set(batch.callbacks.map(\.name))
        self.batch = batch.open ? .open : .closed
        self.batchCallbacks = batch.callbacks.compactMap { callback in
            jobs.first { $0.name == callback.name }.map { (id: $0.id, policy: callback.policy) }
        }
        if batch.open {
            for i in jobs.indices where callbackNames.contains(jobs[i].name) { jobs[i].parents.append(BatchRequest.openParent) }
        }
    }
}

extension BatchRequest {
    /// Jobs to add to a batch of `queue`, checked before any store is touched, each as a
    /// workflow job; a job whose queue is empty (one sent without a queue, to a batch whose
    /// queue the sender did not name) is put in `queue`. Throws ``JobError/invalidWorkflow(_:)``
    /// or a job's own error.
    public static func addition(_ jobs: [JobRequest], queue: String, limits: SubmitLimits) throws(JobError) -> [JobRequest] {
        guard jobs.count <= WorkflowRequest.maxJobs else {
            throw .invalidWorkflow("\(jobs.count) jobs, over a batch's limit of \(WorkflowRequest.maxJobs)")
        }
        var jobs = jobs
        for i in jobs.indices {
            if jobs[i].queue.isEmpty { jobs[i].queue = queue }
            try WorkflowJob(name: "added job \(i + 1)", job: jobs[i]).validate(queue: queue, limits: limits)
        }
        return jobs
    }

    /// Whether a batch of `members` and `callbacks` can take `added` more.
    public static func refuseOversized(members: Int, callbacks: Int, added: Int) throws(JobError) {
        guard members + added + callbacks <= WorkflowRequest.maxJobs else {
            throw .invalidWorkflow("\(members) members and \(added) more, over a batch's limit of \(WorkflowRequest.maxJobs - callbacks)")
        }
    }
}
