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
    /// The worker that holds (or last held) the job.
    public var worker: String?
    /// The last failure's reason.
    public var error: String?
    /// The handler's result, as JSON text, once COMPLETED.
    public var result: String?
    /// When a RETRY_QUEUED job becomes due, in milliseconds since 1970.
    public var runAt: Int64?
    /// When the job last entered each state it has been in, in milliseconds since 1970.
    public var timestamps: [String: Int64]
    /// Every transition, oldest first (capped: the newest are kept).
    public var history: [JobTransition]

    public init(
        id: JobID, queue: String, type: String, payload: String, state: JobState, attempt: Int = 0,
        maxAttempts: Int, attemptBase: Int = 0, backoff: BackoffPolicy, timeoutMs: Int? = nil,
        idempotencyKey: String? = nil, worker: String? = nil, error: String? = nil, result: String? = nil,
        runAt: Int64? = nil, timestamps: [String: Int64] = [:], history: [JobTransition] = []
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
        self.worker = worker
        self.error = error
        self.result = result
        self.runAt = runAt
        self.timestamps = timestamps
        self.history = history
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

/// A job to submit.
public struct JobRequest: Sendable, Hashable {
    public var queue: String
    public var type: String
    /// JSON text.
    public var payload: String
    /// `nil` takes the queue's default, then ``QueueDefaults/standard``.
    public var maxAttempts: Int?
    /// `nil` takes the queue's default, then ``BackoffPolicy/standard``.
    public var backoff: BackoffPolicy?
    public var timeoutMs: Int?
    /// A repeated submit with the same key (on the same queue, within the idempotency
    /// window) returns the first job instead of creating another.
    public var idempotencyKey: String?

    public init(
        queue: String = "default", type: String, payload: String = "{}", maxAttempts: Int? = nil,
        backoff: BackoffPolicy? = nil, timeoutMs: Int? = nil, idempotencyKey: String? = nil
    ) {
        self.queue = queue
        self.type = type
        self.payload = payload
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.timeoutMs = timeoutMs
        self.idempotencyKey = idempotencyKey
    }

    /// A request whose payload is `payload` encoded as JSON.
    public init<Payload: Encodable>(
        queue: String = "default", type: String, payload: Payload, maxAttempts: Int? = nil,
        backoff: BackoffPolicy? = nil, timeoutMs: Int? = nil, idempotencyKey: String? = nil
    ) throws {
        let data = try JSONEncoder().encode(payload)
        self.init(
            queue: queue, type: type, payload: String(decoding: data, as: UTF8.self), maxAttempts: maxAttempts,
            backoff: backoff, timeoutMs: timeoutMs, idempotencyKey: idempotencyKey)
    }

    /// Checks everything a store needs to accept the request, without touching the store.
    public func validate(limits: SubmitLimits) throws(JobError) {
        try Names.validateQueue(queue)
        try Names.validateType(type)
        if let idempotencyKey { try Names.validateIdempotencyKey(idempotencyKey) }
        let size = payload.utf8.count
        guard size <= limits.maxPayloadBytes else { throw .payloadTooLarge(bytes: size, limit: limits.maxPayloadBytes) }
        try JSONText.validate(payload, field: "payload")
        if let maxAttempts, !(1...limits.maxAttempts).contains(maxAttempts) {
            throw .invalidField("maxAttempts", "must be between 1 and \(limits.maxAttempts), got \(maxAttempts)")
        }
        if let timeoutMs, timeoutMs <= 0 {
            throw .invalidField("timeoutMs", "must be more than 0, got \(timeoutMs)")
        }
        try backoff?.validate()
    }
}

/// Bounds on what a submitter may send.
public struct SubmitLimits: Sendable, Hashable {
    /// Largest accepted payload in bytes (default 1 MiB).
    public var maxPayloadBytes: Int
    /// Highest accepted `maxAttempts`.
    public var maxAttempts: Int

    public init(maxPayloadBytes: Int = 1 << 20, maxAttempts: Int = 1000) {
        self.maxPayloadBytes = maxPayloadBytes
        self.maxAttempts = maxAttempts
    }
}

/// Retry settings a queue applies to jobs that do not bring their own.
public struct QueueDefaults: Sendable, Hashable, Codable {
    public var maxAttempts: Int
    public var backoff: BackoffPolicy

    public init(maxAttempts: Int = 3, backoff: BackoffPolicy = .standard) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
    }

    /// Three attempts with ``BackoffPolicy/standard``.
    public static let standard = QueueDefaults()
}

/// The answer to a submit.
public struct SubmittedJob: Sendable, Hashable, Codable {
    public var id: JobID
    public var queue: String
    /// False when an idempotency key matched an existing job, whose id this is.
    public var created: Bool

    public init(id: JobID, queue: String, created: Bool) {
        self.id = id
        self.queue = queue
        self.created = created
    }
}

/// How many jobs of one queue are in each state, with the queue's lifetime counters.
public struct QueueCounts: Sendable, Hashable, Codable {
    public var queue: String
    public var queued: Int
    public var assigned: Int
    public var running: Int
    public var retryQueued: Int
    /// Completed jobs still within their retention.
    public var completed: Int
    public var deadLetter: Int
    /// Reports from workers that no longer held the job, refused by fencing.
    public var staleReports: Int

    public init(
        queue: String, queued: Int = 0, assigned: Int = 0, running: Int = 0, retryQueued: Int = 0,
        completed: Int = 0, deadLetter: Int = 0, staleReports: Int = 0
    ) {
        self.queue = queue
        self.queued = queued
        self.assigned = assigned
        self.running = running
        self.retryQueued = retryQueued
        self.completed = completed
        self.deadLetter = deadLetter
        self.staleReports = staleReports
    }

    public func count(_ state: JobState) -> Int {
        switch state {
        case .queued: queued
        case .assigned: assigned
        case .running: running
        case .retryQueued: retryQueued
        case .completed: completed
        case .deadLetter: deadLetter
        case .submitted, .failed: 0
        }
    }
}

/// What a worker tells the world about itself with every heartbeat.
public struct WorkerInfo: Sendable, Hashable, Codable {
    public var id: String
    public var host: String
    public var pid: Int
    public var queues: [String]
    public var concurrency: Int
    public var inFlight: Int
    /// Milliseconds since 1970.
    public var startedAt: Int64
    public var version: String
    /// Milliseconds since 1970, by the store's clock; set by the store.
    public var lastHeartbeat: Int64?

    public init(
        id: String, host: String, pid: Int, queues: [String], concurrency: Int, inFlight: Int, startedAt: Int64,
        version: String, lastHeartbeat: Int64? = nil
    ) {
        self.id = id
        self.host = host
        self.pid = pid
        self.queues = queues
        self.concurrency = concurrency
        self.inFlight = inFlight
        self.startedAt = startedAt
        self.version = version
        self.lastHeartbeat = lastHeartbeat
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
