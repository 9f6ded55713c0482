import DroverCore

/// What an operation answers, whichever door it came through: the master encodes it with
/// ``json``and a remote store decodes it with ``init(_:json:)``, so the two sides of
/// every reply are written once, beside each other, as ``APIRequest``'s are.
public enum APIResult: Sendable, Equatable {
    /// `submit` of a new job (201), or of a duplicate unique job (200, the existing job's id).
    case created(SubmittedJob)
    /// A job with its history: `get`, `retryDeadLetter`, and `submit` when an idempotency key
    /// matched a job that exists (200).
    case job(Job)
    /// `submitBatch` (201).
    case submitted([SubmittedJob])
    case queues([QueueCounts])
    /// `jobs`: one page, and where the next starts.
    case jobPage(JobPage)
    /// `deadLetters`: one page.
    case jobs([Job], offset: Int, limit: Int)
    case workers([WorkerInfo])
    /// `throughput`: each queue's samples, oldest first.
    case throughput([QueueThroughput])
    case purged(Int)
    case healthy
    /// `heartbeat`, `deregister`.
    case done
    case claimed([ClaimedJob])
    /// `start`, `complete`, `fail`: one outcome per report, in order.
    case outcomes([ReportOutcome])
    case reconciled(ReconcileReport)
    /// `cancel`: what it did to the job.
    case cancel(JobID, CancelOutcome)
    /// `cancelRequests`: the ids of the jobs the worker is to stop.
    case cancelRequests([JobID])
    /// `pauseQueue`, `resumeQueue`: whether the queue is paused now.
    case queuePaused(String, Bool)
    /// `setQueueLimits`: the queue's limits now.
    case queueLimits(String, QueueLimits)
    /// `putSchedule` (201 when new), `pauseSchedule`, `resumeSchedule`: the schedule now.
    case schedule(Schedule, created: Bool)
    case schedules([Schedule])
    case scheduleRemoved(String)
    /// `submitWorkflow` (201): the workflow's id and each job's.
    case workflowSubmitted(SubmittedWorkflow)
    case workflow(WorkflowStatus)
    case workflowCancelled(JobID, WorkflowCancelOutcome)
    /// `addToBatch`: the new members' ids and the batch's state.
    case batchAdded(JobID, BatchAddition)
    /// `recordEffect`: the step's result as the ledger holds it, or that the worker lost the job.
    case effect(EffectRecord)

    public var status: Int {
        switch self {
        case .created(let job): job.created ? 201 : 200
        case .schedule(_, let created): created ? 201 : 200
        case .submitted, .workflowSubmitted: 201
        default: 200
        }
    }

    /// The body: payloads and results inline, byte for byte as submitted.
    public var json: String {
        switch self {
        case .created(let job):
            return
                #"{"id":"\#(job.id)","queue":\#(JSONScanner.quote(job.queue)),"state":"\#(job.state.rawValue)","created":\#(job.created),"duplicate":\#(job.duplicate)}"#
        case .job(let job): return WireFormat.encode(job)
        case .submitted(let jobs): return #"{"jobs":\#(WireFormat.encode(jobs))}"#
        case .queues(let counts): return #"{"queues":\#(WireFormat.encode(counts))}"#
        case .jobPage(let page):
            let next = page.next.map { JSONScanner.quote($0.description) } ?? "null"
            return #"{"jobs":\#(WireFormat.array(page.jobs.map(WireFormat.encode))),"next":\#(next)}"#
        case .jobs(let jobs, let offset, let limit):
            return #"{"jobs":\#(WireFormat.array(jobs.map(WireFormat.encode))),"offset":\#(offset),"limit":\#(limit)}"#
        case .workers(let workers): return #"{"workers":\#(WireFormat.encode(workers))}"#
        case .throughput(let queues):
            return #"{"windowSeconds":\#(ThroughputSample.windowSeconds),"queues":\#(WireFormat.encode(queues))}"#
        case .purged(let count): return #"{"purged":\#(count)}"#
        case .healthy: return #"{"status":"ok"}"#
        case .done: return #"{"ok":true}"#
        case .claimed(let jobs): return #"{"jobs":\#(WireFormat.array(jobs.map(WireFormat.encode)))}"#
        case .outcomes(let outcomes): return #"{"outcomes":\#(WireFormat.encode(outcomes))}"#
        case .reconciled(let report): return WireFormat.encode(report)
        case .cancel(let id, .cancelled): return #"{"id":"\#(id)","state":"CANCELLED","stopping":false}"#
        case .cancel(let id, .stopping(let worker)):
            let member = worker.map { #","worker":\#(JSONScanner.quote($0))"# } ?? ""
            return #"{"id":"\#(id)","state":"RUNNING","stopping":true\#(member)}"#
        case .cancelRequests(let ids): return #"{"jobs":\#(WireFormat.encode(ids.map(\.rawValue)))}"#
        case .queuePaused(let queue, let paused): return #"{"queue":\#(JSONScanner.quote(queue)),"paused":\#(paused)}"#
        case .queueLimits(let queue, let limits):
            return #"{"queue":\#(JSONScanner.quote(queue)),"limits":\#(WireFormat.encode(limits))}"#
        case .schedule(let schedule, let created): return Self.encode(schedule, created: created)
        case .schedules(let schedules): return #"{"schedules":\#(WireFormat.array(schedules.map { Self.encode($0) }))}"#
        case .scheduleRemoved(let name): return #"{"name":\#(JSONScanner.quote(name)),"removed":true}"#
        case .workflowSubmitted(let workflow): return WireFormat.encode(workflow)
        case .workflow(let status): return WireFormat.encode(status, raw: [("state", JSONScanner.quote(status.state.rawValue))])
        case .workflowCancelled(let id, let outcome):
            return #"{"id":"\#(id)","cancelled":\#(outcome.cancelled),"stopping":\#(outcome.stopping)}"#
        case .batchAdded(let id, let addition):
            return WireFormat.encode(addition, raw: [("id", JSONScanner.quote(id.rawValue))])
        case .effect(.recorded(let value)): return #"{"recorded":true,"value":\#(value)}"#
        case .effect(.stale(let state)):
            return #"{"recorded":false\#(state.map { #","state":"\#($0.rawValue)""# } ?? "")}"#
        }
    }

    /// The result of `operation` from its body.
    public init(_ operation: APIOperation, json: String) throws(APIError) {
        do {
            switch operation {
            case .submit:
                let f = try JSONScanner.objectFields(json)
                // A new job's answer is short; an idempotent repeat's is the whole job.
                if f["history"] == nil {
                    let id = try WireFormat.decode(JobID.self, from: f["id"] ?? "null")
                    self = .created(
                        SubmittedJob(
                            id: id, queue: try WireFormat.decode(String.self, from: f["queue"] ?? "null"), created: f["created"] != "false",
                            state: try WireFormat.decode(JobState.self, from: f["state"] ?? #""QUEUED""#),
                            duplicate: f["duplicate"] == "true"))
                } else {
                    self = .job(try WireFormat.decodeJob(json))
                }
            case .get, .retryDeadLetter: self = .job(try WireFormat.decodeJob(json))
            case .submitBatch: self = .submitted(try Self.member("jobs", of: json))
            case .queues: self = .queues(try Self.member("queues", of: json))
            case .jobs:
                let f = try JSONScanner.objectFields(json)
                let jobs = try JSONScanner.arrayElements(f["jobs"] ?? "null").map(WireFormat.decodeJob)
                let next = try f["next"].flatMap { try WireFormat.decode(String?.self, from: $0) }
                self = .jobPage(JobPage(jobs: jobs, next: next.flatMap(JobCursor.init)))
            case .deadLetters:
                let f = try JSONScanner.objectFields(json)
                let jobs = try JSONScanner.arrayElements(f["jobs"] ?? "null").map(WireFormat.decodeJob)
                self = .jobs(jobs, offset: Int(f["offset"] ?? "") ?? 0, limit: Int(f["limit"] ?? "") ?? jobs.count)
            case .workers: self = .workers(try Self.member("workers", of: json))
            case .throughput: self = .throughput(try Self.member("queues", of: json))
            case .purgeDeadLetters: self = .purged(try Self.member("purged", of: json))
            case .health: self = .healthy
            case .heartbeat, .deregister: self = .done
            case .claim:
                let f = try JSONScanner.objectFields(json)
                self = .claimed(try JSONScanner.arrayElements(f["jobs"] ?? "null").map(WireFormat.decodeClaimedJob))
            case .start, .complete, .fail: self = .outcomes(try Self.member("outcomes", of: json))
            case .reconcile: self = .reconciled(try WireFormat.decode(ReconcileReport.self, from: json))
            case .cancel:
                let f = try JSONScanner.objectFields(json)
                let id = try WireFormat.decode(JobID.self, from: f["id"] ?? "null")
                if f["stopping"] == "true" {
                    self = .cancel(id, .stopping(worker: try f["worker"].map { try WireFormat.decode(String.self, from: $0) }))
                } else {
                    self = .cancel(id, .cancelled)
                }
            case .cancelRequests:
                let texts: [String] = try Self.member("jobs", of: json)
                self = .cancelRequests(texts.compactMap(JobID.init))
            case .pauseQueue, .resumeQueue:
                let f = try JSONScanner.objectFields(json)
                self = .queuePaused(try WireFormat.decode(String.self, from: f["queue"] ?? "null"), f["paused"] == "true")
            case .setQueueLimits:
                let f = try JSONScanner.objectFields(json)
                self = .queueLimits(
                    try WireFormat.decode(String.self, from: f["queue"] ?? "null"),
                    try WireFormat.decode(QueueLimits.self, from: f["limits"] ?? "null"))
            case .putSchedule, .pauseSchedule, .resumeSchedule:
                self = .schedule(try Self.decodeSchedule(json), created: try JSONScanner.objectFields(json)["created"] == "true")
            case .schedules:
                let f = try JSONScanner.objectFields(json)
                self = .schedules(try JSONScanner.arrayElements(f["schedules"] ?? "null").map(Self.decodeSchedule))
            case .removeSchedule:
                let f = try JSONScanner.objectFields(json)
                self = .scheduleRemoved(try WireFormat.decode(String.self, from: f["name"] ?? "null"))
            case .addToBatch:
                let f = try JSONScanner.objectFields(json)
                self = .batchAdded(
                    try WireFormat.decode(JobID.self, from: f["id"] ?? "null"), try WireFormat.decode(BatchAddition.self, from: json))
            case .submitWorkflow, .createBatch: self = .workflowSubmitted(try WireFormat.decode(SubmittedWorkflow.self, from: json))
            case .workflow: self = .workflow(try WireFormat.decode(WorkflowStatus.self, from: json))
            case .cancelWorkflow:
                let f = try JSONScanner.objectFields(json)
                self = .workflowCancelled(
                    try WireFormat.decode(JobID.self, from: f["id"] ?? "null"),
                    WorkflowCancelOutcome(cancelled: Int(f["cancelled"] ?? "") ?? 0, stopping: Int(f["stopping"] ?? "") ?? 0))
            case .recordEffect:
                let f = try JSONScanner.objectFields(json)
                if f["recorded"] == "true" {
                    self = .effect(.recorded(f["value"] ?? "null"))
                } else {
                    self = .effect(.stale(current: try f["state"].map { try WireFormat.decode(JobState.self, from: $0) }))
                }
            case .metrics: throw APIError.malformed("metrics are Prometheus text, not a JSON result")
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw .malformed(
                "the answer to \(operation.rawValue) does not read: \(String(describing: error).prefix(200)) in \(json.prefix(200))")
        }
    }

    /// A schedule: its definition's fields, and the state the store keeps.
    /// `created` is given in answers to a change of one schedule.
    static func encode(_ s: Schedule, created: Bool? = nil) -> String {
        var fields = APIRequest.fields(of: s)
        if let created { fields["created"] = String(created) }
        if let v = s.nextFireAt { fields["nextFireAt"] = String(v) }
        if let v = s.lastFireAt { fields["lastFireAt"] = String(v) }
        if let v = s.lastJobID { fields["lastJobId"] = JSONScanner.quote(v.rawValue) }
        fields["firings"] = String(s.firings)
        return APIRequest.object(fields)
    }

    static func decodeSchedule(_ json: String) throws -> Schedule {
        let f = try RequestFields(json: json)
        var schedule = try f.schedule()
        schedule.nextFireAt = try f.int("nextFireAt").map(Int64.init)
        schedule.lastFireAt = try f.int("lastFireAt").map(Int64.init)
        schedule.lastJobID = try f.string("lastJobId").flatMap(JobID.init)
        schedule.firings = try f.int("firings") ?? 0
        return schedule
    }

    private static func member<T: Decodable>(_ name: String, of json: String) throws -> T {
        guard let text = try JSONScanner.objectFields(json)[name] else {
            throw APIError.malformed("no '\(name)' in \(json.prefix(200))")
        }
        return try WireFormat.decode(T.self, from: text)
    }
}
