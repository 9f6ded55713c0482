// Rate and concurrency limits, with the semantics of the Redis store's (see `QueueLimits`).
extension InMemoryJobStore {
    public func setLimits(_ limits: QueueLimits, queue: String) async throws {
        let limits = try limits.validated()
        try Names.validateQueue(queue)
        guard queueState[queue] != nil else { throw JobError.unknownQueue(queue) }
        let at = clock()
        queueState[queue]!.limits = limits
        if let rate = limits.rate {
            // A new limit starts with a full bucket; a changed one keeps what is left, up to its size.
            let tokens = queueState[queue]!.bucket?.tokens ?? Double(rate.count)
            queueState[queue]!.bucket = RateBucket(tokens: min(tokens, Double(rate.count)), at: at)
        } else {
            queueState[queue]!.bucket = nil
        }
        wakeQueue(queue)
    }

    /// How many jobs the queue's limits let start now.
    func allowance(_ queue: String, at: Int64) -> Int {
        guard let limits = queueState[queue]?.limits, !limits.isEmpty else { return .max }
        var allowance = Int.max
        if let concurrency = limits.concurrency {
            let held = queueState[queue]!.active.values.reduce(0) { $0 + $1.count }
            allowance = max(0, concurrency - held)
        }
        if let rate = limits.rate {
            queueState[queue]!.bucket?.refill(rate, now: at)
            allowance = min(allowance, Int(queueState[queue]!.bucket?.tokens ?? 0))
        }
        return allowance
    }

    /// After a claim started `started` jobs of the queue: the bucket gives up their tokens,
    /// and a claim the limits held back (`short`) is counted.
    func spend(_ queue: String, started: Int, short: Bool) {
        queueState[queue]?.bucket?.tokens -= Double(started)
        if short { queueState[queue]!.stats[QueueCounter.limitedClaims.rawValue, default: 0] += 1 }
    }

    /// How long until a rate-limited one of `queues` has a token again, if one waits for it.
    func untilNextToken(_ queues: [String]) -> Duration? {
        queues.compactMap { queue -> Duration? in
            guard let rate = queueState[queue]?.limits?.rate, let bucket = queueState[queue]?.bucket, bucket.tokens < 1,
                queueState[queue]?.ready.isEmpty == false
            else { return nil }
            return .milliseconds(bucket.msUntilToken(rate))
        }.min()
    }
}
