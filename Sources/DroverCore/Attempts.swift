/// How a job's attempts are counted: the one rule the stores, the worker and its handlers
/// follow (the Redis store's Lua `fail` is its translation; the contract suite holds the two
/// together).
///
/// `attempt` counts every hand-out of the job and never goes down, so it can fence late
/// reports. An operator's retry of a dead letter records the attempts used so far as
/// `attemptBase`, so only `attempt - attemptBase` counts against `maxAttempts` and the job gets
/// a full set again.
public struct Attempts: Sendable, Hashable {
    public var attempt: Int
    public var attemptBase: Int
    public var maxAttempts: Int

    public init(attempt: Int, attemptBase: Int, maxAttempts: Int) {
        self.attempt = attempt
        self.attemptBase = attemptBase
        self.maxAttempts = maxAttempts
    }

    /// Attempts counted against ``maxAttempts`` so far.
    public var used: Int { attempt - attemptBase }

    /// Attempts left before the job is dead-lettered.
    public var left: Int { max(0, maxAttempts - used) }

    /// True when a failure of this attempt sends the job to the dead-letter queue.
    public var isLast: Bool { used >= maxAttempts }

    /// Where a failure of this attempt sends the job: RETRY_QUEUED while attempts are left,
    /// DEAD_LETTER when they are used up. A failure that was not the job's own (its worker
    /// stopped or lost track of it) always retries.
    public func stateAfterFailure(countsAgainstJob: Bool) -> JobState {
        !countsAgainstJob || !isLast ? .retryQueued : .deadLetter
    }
}

extension Job {
    public var attempts: Attempts { Attempts(attempt: attempt, attemptBase: attemptBase, maxAttempts: maxAttempts) }
}

/// The reasons a store writes into a job's error when the job itself did not fail: one place,
/// so every store and the README say the same.
public enum FailureReason {
    /// The reaper's, for the jobs of a worker whose heartbeat stopped.
    public static func workerLost(_ worker: String, silentFor timeout: Duration) -> String {
        "worker lost: \(worker) sent no heartbeat for \(timeout)"
    }

    /// A reconcile's, for jobs held under a worker's name that the worker did not know of.
    public static func forgotten(by worker: String) -> String {
        "interrupted: \(worker) no longer knew of this job (a lost reply or a restart)"
    }
}
