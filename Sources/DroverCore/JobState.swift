/// Where a job is in its life. The one state machine of Drover: every store, script and
/// check derives from ``legalNextStates``.
///
/// ```
/// SUBMITTED → QUEUED → ASSIGNED → RUNNING → COMPLETED
///                                 RUNNING → FAILED → RETRY_QUEUED → QUEUED   (attempts left)
///                                           FAILED → DEAD_LETTER             (attempts used up)
/// ASSIGNED → FAILED                         (its worker was lost before it started)
/// DEAD_LETTER → QUEUED                      (an operator retries it)
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

    /// The states a job may move to from this one.
    public var legalNextStates: Set<JobState> {
        switch self {
        case .submitted: [.queued]
        case .queued: [.assigned]
        case .assigned: [.running, .failed]
        case .running: [.completed, .failed]
        case .failed: [.retryQueued, .deadLetter]
        case .retryQueued: [.queued]
        case .deadLetter: [.queued]
        case .completed: []
        }
    }

    public func canMove(to next: JobState) -> Bool { legalNextStates.contains(next) }

    /// COMPLETED and DEAD_LETTER: nothing happens to the job unless an operator acts.
    public var isTerminal: Bool { self == .completed || self == .deadLetter }

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
        }
    }

    /// States a job can be found resting in (the others are passed through atomically).
    public static let observable: [JobState] = [.queued, .assigned, .running, .retryQueued, .completed, .deadLetter]
}
