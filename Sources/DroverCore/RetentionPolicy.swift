/// How long finished jobs are kept and how big the dead-letter queue may grow.
public struct RetentionPolicy: Sendable, Hashable {
    /// How long a COMPLETED job and its result, or a CANCELLED job, are kept (default 24 hours).
    public var completed: Duration
    /// How long a dead letter is kept (default 30 days).
    public var deadLetterMaxAge: Duration
    /// How many dead letters a queue keeps at most; the oldest go first (default 10,000).
    public var deadLetterMaxCount: Int
    /// How long an idempotency key keeps pointing at its job (default 24 hours).
    public var idempotencyWindow: Duration
    /// How many history entries a job keeps (the newest; default 100).
    public var historyLimit: Int

    public init(
        completed: Duration = .seconds(86_400), deadLetterMaxAge: Duration = .seconds(30 * 86_400),
        deadLetterMaxCount: Int = 10_000, idempotencyWindow: Duration = .seconds(86_400), historyLimit: Int = 100
    ) {
        self.completed = completed
        self.deadLetterMaxAge = deadLetterMaxAge
        self.deadLetterMaxCount = deadLetterMaxCount
        self.idempotencyWindow = idempotencyWindow
        self.historyLimit = historyLimit
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
