import Foundation

/// A job submitted again and again on a cron schedule (``CronExpression``), by whichever
/// master or worker runs maintenance: each firing is claimed in the store in the same atomic
/// step that submits its job and moves the schedule to its next time, so however many run it,
/// a firing happens once.
public struct Schedule: Sendable, Hashable {
    /// What to do about firings nobody was running to make (every master and worker down).
    public enum MissedFirings: String, Sendable, Hashable, CaseIterable {
        /// Forget them; the schedule goes on from its next time.
        case skip
        /// Submit one job for all of them, at once, then go on.
        case once
    }

    public var name: String
    /// A ``CronExpression``, five fields or six with seconds first.
    public var cron: String
    /// The IANA time zone the expression's times are read in (`Europe/Berlin`); `UTC` by default.
    public var timeZone: String
    /// The job each firing submits: queue, type, payload and options. A firing's idempotency
    /// key is `cron:<name>:<fire time in ms>` and its job starts at once, so the template may
    /// carry neither an idempotency key nor a start.
    public var job: JobRequest
    public var missedFirings: MissedFirings
    /// A paused schedule keeps its definition and fires nothing until resumed.
    public var paused: Bool

    /// Kept by the store: when it fires next (ms since 1970; `nil` while paused), when it last
    /// fired and with which job, and how many times it has fired.
    public var nextFireAt: Int64?
    public var lastFireAt: Int64?
    public var lastJobID: JobID?
    public var firings: Int

    /// A firing reached more than this late counts as missed (see ``MissedFirings``); one
    /// reached sooner is made, late.
    public static let missedAfter: Duration = .seconds(10)

    public init(
        name: String, cron: String, timeZone: String = "UTC", job: JobRequest, missedFirings: MissedFirings = .skip,
        paused: Bool = false, nextFireAt: Int64? = nil, lastFireAt: Int64? = nil, lastJobID: JobID? = nil, firings: Int = 0
    ) {
        self.name = name
        self.cron = cron
        self.timeZone = timeZone
        self.job = job
        self.missedFirings = missedFirings
        self.paused = paused
        self.nextFireAt = nextFireAt
        self.lastFireAt = lastFireAt
        self.lastJobID = lastJobID
        self.firings = firings
    }

    /// The parsed expression and zone, after checking everything a store needs to accept the
    /// schedule; throws ``JobError`` naming what is wrong.
    public func validated(limits: SubmitLimits) throws(JobError) -> (cron: CronExpression, zone: TimeZone) {
        try Names.validateSchedule(name)
        let (expression, zone) = try timing()
        try job.validate(limits: limits)
        if job.idempotencyKey != nil {
            throw .invalidField("idempotencyKey", "a schedule's firings have their own (cron:<name>:<fire time>)")
        }
        if job.start != nil { throw .invalidField("delayMs", "a schedule's jobs start when it fires") }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        guard expression.nextFire(after: now, in: zone) != nil else {
            throw .invalidField("cron", "'\(cron.prefix(80))' never fires in the next eight years")
        }
        return (expression, zone)
    }

    /// The parsed expression and zone: all a store needs to work out the firings of a schedule
    /// it accepted (``validated(limits:)`` checked the rest then).
    public func timing() throws(JobError) -> (cron: CronExpression, zone: TimeZone) {
        let expression = try CronExpression(cron)
        guard let zone = TimeZone(identifier: timeZone) else {
            throw .invalidField("timeZone", "'\(timeZone.prefix(60))' is not an IANA time zone such as UTC or Europe/Berlin")
        }
        return (expression, zone)
    }

    /// The idempotency key of the firing at `fireAt`.
    public func idempotencyKey(firingAt fireAt: Int64) -> String { "cron:\(name):\(fireAt)" }

    /// What a firing due at `due` does when the store's clock reads `now`: which fire time it
    /// submits a job for (`nil`: none, a missed firing skipped), and the schedule's next time.
    public func firing(due: Int64, now: Int64, cron: CronExpression, zone: TimeZone) -> (submitFor: Int64?, next: Int64?) {
        if now - due <= Self.missedAfter.milliseconds {
            return (due, cron.nextFire(after: due, in: zone))
        }
        // Missed: whatever the policy, the schedule goes on from now.
        let next = cron.nextFire(after: now, in: zone)
        switch missedFirings {
        case .skip: return (nil, next)
        case .once: return (due, next)
        }
    }
}

/// What one pass over the due schedules did.
public struct ScheduleReport: Sendable, Hashable {
    /// Firings that submitted a job.
    public var fired: Int
    /// Missed firings skipped by their schedule's policy.
    public var skipped: Int
    /// When the next schedule fires (ms since 1970), if any is active.
    public var nextFireMs: Int64?
    /// The store's clock when the pass ran (ms since 1970), as in ``PromotionReport``.
    public var nowMs: Int64?

    public init(fired: Int = 0, skipped: Int = 0, nextFireMs: Int64? = nil, nowMs: Int64? = nil) {
        self.fired = fired
        self.skipped = skipped
        self.nextFireMs = nextFireMs
        self.nowMs = nowMs
    }
}
