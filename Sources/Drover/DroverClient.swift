import DroverCore
import DroverRedis
import DroverRedisStore
import Foundation
import Logging

/// Submits jobs and looks at them: the API an application uses to hand Drover work.
///
/// ```swift
/// let client = try DroverClient(redisURL: "redis://127.0.0.1:6379")
/// let job = try await client.submit(type: "resize", payload: Resize(path: "a.png", width: 200))
/// let done = try await client.wait(for: job.id, timeout: .seconds(30))
/// ```
public struct DroverClient: Sendable {
    public let store: any JobStore

    public init(store: any JobStore) {
        self.store = store
    }

    /// A client for the Redis at `redisURL` (`redis://…` or `unix://…`).
    public init(redisURL: String, keys: KeySchema = KeySchema(), logger: Logger = Logger(label: "drover.client")) throws {
        let configuration = RedisJobStore.Configuration(redis: try RedisConfiguration(redisURL, clientName: "drover.client"), keys: keys)
        self.init(store: RedisJobStore(configuration: configuration, logger: logger))
    }

    /// Submits one job.
    @discardableResult
    public func submit(_ request: JobRequest) async throws -> SubmittedJob {
        try await store.submit([request])[0]
    }

    /// Submits a job whose payload is `payload` encoded as JSON. With `start` it is delayed:
    /// `.after(.seconds(30))` or `.at(date)`.
    @discardableResult
    public func submit<Payload: Encodable>(
        type: String, payload: Payload, queue: String = "default", maxAttempts: Int? = nil, backoff: BackoffPolicy? = nil,
        timeout: Duration? = nil, idempotencyKey: String? = nil, start: JobStart? = nil
    ) async throws -> SubmittedJob {
        try await submit(
            JobRequest(
                queue: queue, type: type, payload: payload, maxAttempts: maxAttempts, backoff: backoff,
                timeoutMs: timeout.map { Int($0.milliseconds) }, idempotencyKey: idempotencyKey, start: start))
    }

    /// Cancels a job: one that has not started is CANCELLED at once; a running one's worker
    /// is told to stop it, and it ends CANCELLED (wait for it with ``wait(for:queue:timeout:)``).
    /// Throws ``JobError/illegalTransition(id:from:to:)`` for a job that has finished.
    @discardableResult
    public func cancel(_ id: JobID, queue: String? = nil) async throws -> CancelOutcome {
        try await store.cancel(id, queue: queue)
    }

    /// Submits many jobs in one round trip (per queue). All are checked before any is written.
    @discardableResult
    public func submit(batch requests: [JobRequest]) async throws -> [SubmittedJob] {
        try await store.submit(requests)
    }

    /// The job with its history, or `nil`.
    public func job(_ id: JobID, queue: String? = nil) async throws -> Job? {
        try await store.job(id, queue: queue)
    }

    /// Waits until the job is COMPLETED, DEAD_LETTER or CANCELLED, or `timeout` passes; returns the job as
    /// it is then. Throws ``JobError/notFound(_:)`` for an unknown id.
    public func wait(for id: JobID, queue: String? = nil, timeout: Duration) async throws -> Job {
        guard let job = try await store.waitUntilFinished(id, queue: queue, timeout: timeout) else { throw JobError.notFound(id) }
        return job
    }

    /// Waits for the job and decodes its result; throws ``JobOutcomeError`` if it did not complete.
    public func result<Result: Decodable>(of id: JobID, as type: Result.Type = Result.self, queue: String? = nil, timeout: Duration)
        async throws -> Result
    {
        let job = try await wait(for: id, queue: queue, timeout: timeout)
        guard job.state == .completed, let result = job.result else {
            throw JobOutcomeError(job: job)
        }
        return try JSONDecoder().decode(Result.self, from: Data(result.utf8))
    }

    /// Every queue with its count of jobs per state.
    public func queueCounts() async throws -> [QueueCounts] {
        try await store.queueCounts()
    }

    /// One page of a queue's jobs in one state; pass a page's `next` for the page after it.
    public func jobs(queue: String, state: JobState, after cursor: JobCursor? = nil, limit: Int = 50) async throws -> JobPage {
        try await store.jobs(queue: queue, state: state, after: cursor, limit: limit)
    }

    /// One page of a queue's dead letters, newest first; pass a page's `next` for the page after it.
    public func deadLetters(queue: String, after cursor: JobCursor? = nil, limit: Int = 50) async throws -> JobPage {
        try await store.jobs(queue: queue, state: .deadLetter, after: cursor, limit: limit)
    }

    /// Queues a dead letter again with a fresh set of attempts.
    public func retryDeadLetter(_ id: JobID, queue: String? = nil) async throws {
        try await store.retryDeadLetter(id, queue: queue)
    }

    /// Deletes a queue's dead letters; returns how many.
    @discardableResult
    public func purgeDeadLetters(queue: String) async throws -> Int {
        try await store.purgeDeadLetters(queue: queue)
    }

    /// Pauses a queue everywhere: none of its jobs starts until ``resume(queue:)``; running
    /// jobs finish and submits are still accepted.
    public func pause(queue: String) async throws {
        try await store.pause(queue: queue)
    }

    /// Lets a paused queue's jobs start again.
    public func resume(queue: String) async throws {
        try await store.resume(queue: queue)
    }

    /// Sets how fast and how many at once a queue's jobs may start, across every worker,
    /// replacing its limits; ``QueueLimits/none`` removes them. Jobs held back stay QUEUED.
    ///
    /// ```swift
    /// try await client.setLimits(QueueLimits(rate: .init(count: 50), concurrency: 5), queue: "mail")
    /// ```
    public func setLimits(_ limits: QueueLimits, queue: String) async throws {
        try await store.setLimits(limits, queue: queue)
    }

    /// Adds a cron schedule, or replaces the one of the same name; returns it with its next
    /// fire time, and whether it is new.
    ///
    /// ```swift
    /// try await client.schedule(Schedule(
    ///     name: "nightly-report", cron: "0 3 * * *", timeZone: "Europe/Berlin",
    ///     job: JobRequest(queue: "reports", type: "report", payload: #"{"scope":"all"}"#)))
    /// ```
    @discardableResult
    public func schedule(_ schedule: Schedule) async throws -> (schedule: Schedule, created: Bool) {
        try await store.putSchedule(schedule)
    }

    /// Every cron schedule, with its next and last firing.
    public func schedules() async throws -> [Schedule] {
        try await store.schedules()
    }

    /// Removes a cron schedule; the jobs it submitted stay.
    public func removeSchedule(named name: String) async throws {
        try await store.removeSchedule(named: name)
    }

    /// Pauses a cron schedule: it fires nothing until ``resumeSchedule(named:)``.
    @discardableResult
    public func pauseSchedule(named name: String) async throws -> Schedule {
        try await store.setSchedulePaused(true, named: name)
    }

    /// Resumes a cron schedule from its next time after now.
    @discardableResult
    public func resumeSchedule(named name: String) async throws -> Schedule {
        try await store.setSchedulePaused(false, named: name)
    }

    /// Registered workers with their last heartbeat.
    public func workers() async throws -> [WorkerInfo] {
        try await store.workers()
    }
}

/// A job that ended (or is still) somewhere other than COMPLETED when its result was asked for.
public struct JobOutcomeError: Error, Sendable, CustomStringConvertible {
    public let job: Job

    public var description: String {
        switch job.state {
        case .deadLetter: return "job \(job.id) is DEAD_LETTER after \(job.attempt) attempts: \(job.error ?? "no error recorded")"
        default: return "job \(job.id) is \(job.state.rawValue), not finished yet"
        }
    }
}
