import Foundation

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
    /// When set, the job is SCHEDULED and becomes QUEUED once due; `nil` queues it at once.
    public var start: JobStart?
    /// Within its queue a job of higher priority starts first (``JobRequest/priorities``);
    /// `nil` takes the queue's default, then 0.
    public var priority: Int?
    /// Refuse this job while another with the same key is unfinished (see ``UniqueLock``).
    public var unique: UniqueLock?

    /// The priorities a job may have: 0 (the default) to 9 (first).
    public static let priorities = 0...9

    public init(
        queue: String = "default", type: String, payload: String = "{}", maxAttempts: Int? = nil,
        backoff: BackoffPolicy? = nil, timeoutMs: Int? = nil, idempotencyKey: String? = nil, start: JobStart? = nil,
        priority: Int? = nil, unique: UniqueLock? = nil
    ) {
        self.queue = queue
        self.type = type
        self.payload = payload
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.timeoutMs = timeoutMs
        self.idempotencyKey = idempotencyKey
        self.start = start
        self.priority = priority
        self.unique = unique
    }

    /// A request whose payload is `payload` encoded as JSON.
    public init<Payload: Encodable>(
        queue: String = "default", type: String, payload: Payload, maxAttempts: Int? = nil,
        backoff: BackoffPolicy? = nil, timeoutMs: Int? = nil, idempotencyKey: String? = nil, start: JobStart? = nil,
        priority: Int? = nil, unique: UniqueLock? = nil
    ) throws {
        let data = try JSONEncoder().encode(payload)
        self.init(
            queue: queue, type: type, payload: String(decoding: data, as: UTF8.self), maxAttempts: maxAttempts,
            backoff: backoff, timeoutMs: timeoutMs, idempotencyKey: idempotencyKey, start: start, priority: priority,
            unique: unique)
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
        try start?.validate()
        if let priority { try Self.validate(priority: priority) }
        try unique?.validate()
    }

    public static func validate(priority: Int) throws(JobError) {
        guard priorities.contains(priority) else {
            throw .invalidField("priority", "must be between \(priorities.lowerBound) and \(priorities.upperBound), got \(priority)")
        }
    }
}

/// When a submitted job may first run. Due times are read against the store's clock
/// (Redis's `TIME`), so a delay means the same whatever the submitting machine's clock says.
public enum JobStart: Sendable, Hashable {
    /// After this long from the submit.
    case after(Duration)
    /// At this time, in milliseconds since 1970; a time already past queues the job at once.
    case at(epochMs: Int64)

    /// The longest delay accepted: far enough for any schedule, near enough to catch unit mistakes
    /// (seconds sent as milliseconds the other way round).
    public static let maxDelay = Duration.seconds(10 * 366 * 86_400)

    /// The latest due time accepted, 9999-12-31T23:59:59.999Z: the end of what RFC 3339 can
    /// write, and far below a time in microseconds mistaken for milliseconds.
    public static let latestRunAtMs: Int64 = 253_402_300_799_999

    /// At `date`.
    public static func at(_ date: Date) -> JobStart { .at(epochMs: Int64((date.timeIntervalSince1970 * 1000).rounded())) }

    /// At an RFC 3339 time; `nil` if `text` is not one. Any such time is accepted: one before
    /// 1970 is past like any other, and queues the job at once.
    public static func at(rfc3339 text: String) -> JobStart? {
        RFC3339.epochMs(text).map { .at(epochMs: min(max($0, 0), latestRunAtMs)) }
    }

    public func validate() throws(JobError) {
        switch self {
        case .after(let delay):
            guard delay >= .zero else { throw .invalidField("delayMs", "must not be negative, got \(delay.milliseconds)") }
            guard delay <= Self.maxDelay else { throw .invalidField("delayMs", "must be at most 10 years, got \(delay.milliseconds) ms") }
        case .at(let ms):
            guard ms >= 0 else { throw .invalidField("runAt", "must be after 1970, got \(ms)") }
            guard ms <= Self.latestRunAtMs else {
                throw .invalidField("runAt", "must be at most \(Self.latestRunAtMs) (9999-12-31T23:59:59.999Z), got \(ms)")
            }
        }
    }

    /// The due time, given the store's clock reading `now` (ms).
    public func dueMs(now: Int64) -> Int64 {
        switch self {
        case .after(let delay): now + delay.milliseconds
        case .at(let ms): ms
        }
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
    /// The priority of jobs submitted without one.
    public var priority: Int

    public init(maxAttempts: Int = 3, backoff: BackoffPolicy = .standard, priority: Int = 0) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.priority = priority
    }

    /// Checks the defaults before a store keeps them.
    public func validate() throws(JobError) {
        guard maxAttempts >= 1 else { throw .invalidField("maxAttempts", "must be at least 1") }
        try backoff.validate()
        try JobRequest.validate(priority: priority)
    }

    /// Three attempts with ``BackoffPolicy/standard``.
    public static let standard = QueueDefaults()
}

/// The answer to a submit.
public struct SubmittedJob: Sendable, Hashable, Codable {
    public var id: JobID
    public var queue: String
    /// False when an idempotency key or a unique key matched an existing job, whose id this is.
    public var created: Bool
    /// True when the job was refused as a duplicate of an unfinished unique job, whose id this is.
    public var duplicate: Bool
    /// Where a new job went: QUEUED, or SCHEDULED when it is delayed.
    public var state: JobState

    public init(id: JobID, queue: String, created: Bool, state: JobState = .queued, duplicate: Bool = false) {
        self.id = id
        self.queue = queue
        self.created = created
        self.state = state
        self.duplicate = duplicate
    }

    private enum CodingKeys: String, CodingKey { case id, queue, created, state, duplicate }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(JobID.self, forKey: .id), queue: try c.decode(String.self, forKey: .queue),
            created: try c.decode(Bool.self, forKey: .created), state: try c.decodeIfPresent(JobState.self, forKey: .state) ?? .queued,
            duplicate: try c.decodeIfPresent(Bool.self, forKey: .duplicate) ?? false)
    }
}
