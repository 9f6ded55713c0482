/// The answer to recording a step of a job's effect ledger
/// (``JobStore/recordEffect(_:step:value:worker:)``).
public enum EffectRecord: Sendable, Hashable {
    /// The step's result as the ledger holds it now: the value just recorded, or the one an
    /// earlier record of the same step left (the first wins).
    case recorded(String)
    /// The worker no longer holds the job (it was reassigned, cancelled or has ended): the
    /// ledger is unchanged, and the worker should stop working on the job.
    case stale(current: JobState?)
}
