/// Makes a job unique: while a job holding the same key is unfinished (and, with a `ttl`, at
/// most that long) a submit of another is refused, and answers with the existing job's id,
/// flagged ``SubmittedJob/duplicate``.
///
/// Beside the idempotency key, not instead of it: an idempotency key names one submit (a
/// retried request must not create a second job, however long the first has been finished),
/// while a unique key names the work (one report per user at a time, however many requests
/// ask for it), and frees itself when that work is done.
public struct UniqueLock: Sendable, Hashable {
    /// `nil`: the job's type and a hash of its payload's exact text.
    public var key: String?
    /// The longest the lock lasts; `nil`: until the job finishes.
    public var ttl: Duration?

    public init(key: String? = nil, ttl: Duration? = nil) {
        self.key = key
        self.ttl = ttl
    }

    /// The longest lock: the same bound as the longest delay.
    public static let maxTTL = JobStart.maxDelay

    public func validate() throws(JobError) {
        if let key { try Names.validateUniqueKey(key) }
        if let ttl {
            guard ttl >= .milliseconds(1), ttl <= Self.maxTTL else {
                throw .invalidField("unique.ttlMs", "must be between 1 ms and 10 years, got \(ttl.milliseconds) ms")
            }
        }
    }
}
