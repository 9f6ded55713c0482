/// Where a job is in its life. The one state machine of Drover: every store, script and
/// check derives from ``legalNextStates``.
///
/// ```
/// SUBMITTED → QUEUED → ASSIGNED → RUNNING → COMPLETED
/// SUBMITTED → SCHEDULED → QUEUED            (a delayed job, when it is due)
/// SUBMITTED → WAITING → QUEUED              (a workflow job, when its last parent has ended)
///                                 RUNNING → FAILED → RETRY_QUEUED → QUEUED   (attempts left)
///                                           FAILED → DEAD_LETTER             (attempts used up)
/// ASSIGNED → FAILED                         (its worker was lost before it started)
/// DEAD_LETTER → QUEUED                      (an operator retries it)
/// SCHEDULED, WAITING, QUEUED, RETRY_QUEUED → CANCELLED (cancelled at once)
/// ASSIGNED, RUNNING → CANCELLED             (its worker stopped it after a cancel request)
/// ```
///
/// SUBMITTED and FAILED are passed through inside one atomic step (submit; fail and
/// reschedule), so a reader never finds a job resting in them; both appear in its history.
public enum JobState: String, Sendable, Codable, CaseIterable, Hashable {
    case submitted = "SUBMITTED"
    case queued = "QUEUED"
    case assigned = "ASSIGNED"
    case running = "RUNNING"
    case completed = "COMPLETED"
    case failed = "FAILED"
    case retryQueued = "RETRY_QUEUED"
    case deadLetter = "DEAD_LETTER"
    /// Delayed: waiting for its `runAt` time.
    case scheduled = "SCHEDULED"
    /// Cancelled by a user; it never runs again.
    case cancelled = "CANCELLED"
    /// A workflow job whose parents have not all ended (see ``WorkflowRequest``).
    case waiting = "WAITING"

    /// The states a job may move to from this one.
    public var legalNextStates: Set<JobState> {
        switch self {
        case .submitted: [.queued, .scheduled, .waiting]
        case .scheduled: [.queued, .cancelled]
        case .waiting: [.queued, .cancelled]
        case .queued: [.assigned, .cancelled]
        case .assigned: [.running, .failed, .cancelled]
        case .running: [.completed, .failed, .cancelled]
        case .failed: [.retryQueued, .deadLetter]
        case .retryQueued: [.queued, .cancelled]
        case .deadLetter: [.queued]
        case .completed, .cancelled: []
        }
    }

    public func canMove(to next: JobState) -> Bool { legalNextStates.contains(next) }

    /// COMPLETED, DEAD_LETTER and CANCELLED: nothing happens to the job unless an operator
    /// acts (and to a cancelled one, nothing at all).
    public var isTerminal: Bool { self == .completed || self == .deadLetter || self == .cancelled }

    /// The states a cancel ends at once; a RUNNING job is stopped by its worker.
    public static let cancellableAtOnce: Set<JobState> = [.scheduled, .waiting, .queued, .retryQueued, .assigned]

    /// The job-hash field that records when the job last entered this state.
    public var timestampField: String {
        switch self {
        case .submitted: "submittedAt"
        case .queued: "queuedAt"
        case .assigned: "assignedAt"
        case .running: "runningAt"
        case .completed: "completedAt"
        case .failed: "failedAt"
        case .retryQueued: "retryQueuedAt"
        case .deadLetter: "deadLetterAt"
        case .scheduled: "scheduledAt"
        case .cancelled: "cancelledAt"
        case .waiting: "waitingAt"
        }
    }

    /// States a job can be found resting in (the others are passed through atomically).
    public static let observable: [JobState] = [
        .waiting, .scheduled, .queued, .assigned, .running, .retryQueued, .completed, .deadLetter, .cancelled,
    ]
}
