/// What a cancel did.
public enum CancelOutcome: Sendable, Hashable {
    /// The job was SCHEDULED, QUEUED, RETRY_QUEUED or ASSIGNED (taken, not started) and is
    /// CANCELLED now.
    case cancelled
    /// The job is RUNNING: its worker has been told to stop it, and the job ends
    /// CANCELLED when the worker reports (or when its timeout or the reaper ends it).
    case stopping(worker: String?)
}
