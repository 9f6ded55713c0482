import DroverCore

/// Everything the master can be asked, whichever door the question came through: REST and
/// TCP parse into an ``APIRequest`` and print the ``APIResponse`` in their own way, so both
/// speak exactly the same operations with the same errors.
public enum APIRequest: Sendable, Equatable {
    // Clients
    case submit(JobRequest)
    case submitBatch([JobRequest])
    case job(JobID, queue: String?, wait: Duration?)
    case queues
    /// One page of a queue's jobs in one state, after `cursor` (from the start without one).
    case jobs(queue: String, state: JobState, after: JobCursor?, limit: Int)
    case workers
    /// Each queue's throughput samples, only those after `since` (ms) when given.
    case throughput(since: Int64?)
    case deadLetters(queue: String?, offset: Int, limit: Int)
    case retryDeadLetter(JobID, queue: String?)
    case cancel(JobID, queue: String?)
    case purgeDeadLetters(queue: String?)
    case pauseQueue(String)
    case resumeQueue(String)
    /// Replaces the queue's limits; ``QueueLimits/none`` removes them.
    case setQueueLimits(String, QueueLimits)
    case schedules
    /// Creates or replaces a schedule.
    case putSchedule(Schedule)
    case removeSchedule(String)
    case pauseSchedule(String)
    case resumeSchedule(String)
    case submitWorkflow(WorkflowRequest)
    case workflow(JobID, queue: String?)
    case cancelWorkflow(JobID, queue: String?)
    case createBatch(BatchRequest)
    /// Adds members to an open batch; `close` closes it after them.
    case addToBatch(JobID, queue: String?, jobs: [JobRequest], close: Bool)
    case health
    // Remote workers
    case heartbeat(WorkerInfo)
    /// `start`: RUNNING at once (what remote workers do), or ASSIGNED until a `start`.
    case claim(worker: String, queues: [String], max: Int, start: Bool, wait: Duration)
    case start(worker: String, [JobLease])
    case complete(worker: String, [CompletionReport])
    case fail(worker: String, [FailureReport])
    case reconcile(worker: String, queues: [String], holding: Set<JobID>)
    case deregister(worker: String)
    /// Waits up to `wait` for cancel requests of the worker's jobs.
    case cancelRequests(worker: String, wait: Duration)
    /// Records one step of a running job's effect ledger.
    case recordEffect(worker: String, JobLease, step: String, value: String)

    /// The worker a remote worker's request acts for; `nil` for client requests.
    public var workerID: String? {
        switch self {
        case .heartbeat(let info): info.id
        case .claim(let worker, _, _, _, _), .start(let worker, _), .complete(let worker, _), .fail(let worker, _),
            .reconcile(let worker, _, _), .deregister(let worker), .cancelRequests(let worker, _), .recordEffect(let worker, _, _, _):
            worker
        default: nil
        }
    }

    /// The operation this request performs.
    public var operation: APIOperation {
        switch self {
        case .submit: .submit
        case .submitBatch: .submitBatch
        case .job: .get
        case .queues: .queues
        case .jobs: .jobs
        case .workers: .workers
        case .throughput: .throughput
        case .deadLetters: .deadLetters
        case .retryDeadLetter: .retryDeadLetter
        case .purgeDeadLetters: .purgeDeadLetters
        case .pauseQueue: .pauseQueue
        case .resumeQueue: .resumeQueue
        case .setQueueLimits: .setQueueLimits
        case .schedules: .schedules
        case .putSchedule: .putSchedule
        case .removeSchedule: .removeSchedule
        case .pauseSchedule: .pauseSchedule
        case .resumeSchedule: .resumeSchedule
        case .health: .health
        case .heartbeat: .heartbeat
        case .claim: .claim
        case .start: .start
        case .complete: .complete
        case .fail: .fail
        case .reconcile: .reconcile
        case .deregister: .deregister
        case .cancel: .cancel
        case .cancelRequests: .cancelRequests
        case .submitWorkflow: .submitWorkflow
        case .workflow: .workflow
        case .cancelWorkflow: .cancelWorkflow
        case .createBatch: .createBatch
        case .addToBatch: .addToBatch
        case .recordEffect: .recordEffect
        }
    }
}
