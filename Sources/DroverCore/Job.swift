import Foundation

/// A job as stored: what to run, where it is in its life and how it got there.
public struct Job: Sendable, Hashable, Codable {
    public var id: JobID
    public var queue: String
    /// Selects the handler that runs the job.
    public var type: String
    /// The handler's input, as JSON text.
    public var payload: String
    public var state: JobState
    /// How many times the job has been handed to a worker (1 on its first run). Never goes
    /// down, so together with ``worker`` it fences late reports from a replaced worker.
    public var attempt: Int
    /// How many attempts the job gets before it is dead-lettered.
    public var maxAttempts: Int
    /// Attempts used before the last operator retry; `attempt - attemptBase` counts against
    /// ``maxAttempts``, so a dead letter retried by an operator gets a full set again.
    public var attemptBase: Int
    public var backoff: BackoffPolicy
    /// How long one run may take before it is cancelled and failed; `nil` uses the worker's.
    public var timeoutMs: Int?
    public var idempotencyKey: String?
    /// Higher starts first within the queue (0 to 9).
    public var priority: Int
    /// The key that keeps this job unique while it is unfinished (see ``UniqueLock``).
    public var uniqueKey: String?
    /// The worker that holds (or last held) the job.
    public var worker: String?
    /// The last failure's reason.
    public var error: String?
    /// The handler's result, as JSON text, once COMPLETED.
    public var result: String?
    /// When a cancel was asked for while the job was ASSIGNED or RUNNING (ms since 1970):
    /// the job ends CANCELLED whatever its worker reports next.
    public var cancelRequestedAt: Int64?
    /// When a SCHEDULED or RETRY_QUEUED job becomes due, in milliseconds since 1970.
    public var runAt: Int64?
    /// The workflow the job belongs to, if any.
    public var workflow: WorkflowMembership?
    /// The job's effect ledger: each step's recorded result, by step (see
    /// ``JobStore/recordEffect(_:step:value:worker:)``).
    public var effects: [String: String]
    /// When the job last entered each state it has been in, in milliseconds since 1970.
    public var timestamps: [String: Int64]
    /// Every transition, oldest first (capped: the newest are kept).
    public var history: [JobTransition]

    public init(
        id: JobID, queue: String, type: String, payload: String, state: JobState, attempt: Int = 0,
        maxAttempts: Int, attemptBase: Int = 0, backoff: BackoffPolicy, timeoutMs: Int? = nil,
        idempotencyKey: String? = nil, priority: Int = 0, uniqueKey: String? = nil, worker: String? = nil, error: String? = nil,
        result: String? = nil,
        runAt: Int64? = nil, cancelRequestedAt: Int64? = nil, timestamps: [String: Int64] = [:], history: [JobTransition] = [],
        workflow: WorkflowMembership? = nil, effects: [String: String] = [:]
    ) {
        self.id = id
        self.queue = queue
        self.type = type
        self.payload = payload
        self.state = state
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.attemptBase = attemptBase
        self.backoff = backoff
        self.timeoutMs = timeoutMs
        self.idempotencyKey = idempotencyKey
        self.priority = priority
        self.uniqueKey = uniqueKey
        self.worker = worker
        self.error = error
        self.result = result
        self.runAt = runAt
        self.cancelRequestedAt = cancelRequestedAt
        self.timestamps = timestamps
        self.history = history
        self.workflow = workflow
        self.effects = effects
    }

    /// When the job last entered `state`, if it ever did.
    public func time(of state: JobState) -> Date? {
        timestamps[state.timestampField].map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }

    /// Attempts left before the job is dead-lettered.
    public var attemptsLeft: Int { attempts.left }
}

/// One step in a job's history.
public struct JobTransition: Sendable, Hashable, Codable {
    public var state: JobState
    /// Milliseconds since 1970, by the store's clock (Redis's `TIME` for the Redis store).
    public var at: Int64
    public var attempt: Int
    public var worker: String?
    public var error: String?

    public init(state: JobState, at: Int64, attempt: Int, worker: String? = nil, error: String? = nil) {
        self.state = state
        self.at = at
        self.attempt = attempt
        self.worker = worker
        self.error = error
    }
}

/// JSON text checks shared by every entry point.
public enum JSONText {
    /// Throws ``JobError/invalidJSON(field:reason:)`` unless `text` is one JSON value nested
    /// at most ``JSONScanner/defaultMaxDepth`` levels.
    public static func validate(_ text: String, field: String) throws(JobError) {
        guard !text.isEmpty else { throw .invalidJSON(field: field, reason: "it is empty") }
        do {
            try JSONScanner.validate(text)
        } catch {
            throw .invalidJSON(field: field, reason: error.description)
        }
    }
}
