import Foundation

/// How jobs look on the wire (REST, TCP, remote workers): plain JSON where `payload` and
/// `result` are the JSON values themselves, byte for byte as submitted and returned.
public enum WireFormat {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Encodes `value` and appends raw JSON members (`nil` values are left out).
    public static func encode<T: Encodable>(_ value: T, raw: [(String, String?)] = []) -> String {
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var text = String(decoding: data, as: UTF8.self)
        let extra = raw.compactMap { key, value in value.map { "\(JSONScanner.quote(key)):\($0)" } }
        guard !extra.isEmpty, text.hasSuffix("}") else { return text }
        text.removeLast()
        return text + (text.hasSuffix("{") ? "" : ",") + extra.joined(separator: ",") + "}"
    }

    /// Decodes `T` from one JSON value's text.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    // MARK: Jobs

    private struct JobView: Codable {
        var id: JobID
        var queue: String
        var type: String
        var state: JobState
        var attempt: Int
        var maxAttempts: Int
        var attemptBase: Int
        var attemptsLeft: Int?
        var backoff: BackoffPolicy
        var timeoutMs: Int?
        var idempotencyKey: String?
        var priority: Int?
        var uniqueKey: String?
        var worker: String?
        var error: String?
        var runAt: Int64?
        var cancelRequestedAt: Int64?
        var timestamps: [String: Int64]
        var history: [JobTransition]
        var workflow: WorkflowMembership?
    }

    /// A job as JSON, with its payload and (when it has one) its result inline.
    public static func encode(_ job: Job) -> String {
        let view = JobView(
            id: job.id, queue: job.queue, type: job.type, state: job.state, attempt: job.attempt, maxAttempts: job.maxAttempts,
            attemptBase: job.attemptBase, attemptsLeft: job.attemptsLeft, backoff: job.backoff, timeoutMs: job.timeoutMs,
            idempotencyKey: job.idempotencyKey, priority: job.priority, uniqueKey: job.uniqueKey,
            worker: job.worker, error: job.error, runAt: job.runAt,
            cancelRequestedAt: job.cancelRequestedAt, timestamps: job.timestamps, history: job.history, workflow: job.workflow)
        return encode(view, raw: [("payload", job.payload), ("result", job.result), ("effects", rawObject(job.effects))])
    }

    /// The job from its JSON.
    public static func decodeJob(_ text: String) throws -> Job {
        let fields = try JSONScanner.objectFields(text)
        let view = try decode(JobView.self, from: text)
        return Job(
            id: view.id, queue: view.queue, type: view.type, payload: fields["payload"] ?? "null", state: view.state,
            attempt: view.attempt, maxAttempts: view.maxAttempts, attemptBase: view.attemptBase, backoff: view.backoff,
            timeoutMs: view.timeoutMs, idempotencyKey: view.idempotencyKey, priority: view.priority ?? 0,
            uniqueKey: view.uniqueKey, worker: view.worker,
            error: view.error,
            result: fields["result"], runAt: view.runAt, cancelRequestedAt: view.cancelRequestedAt, timestamps: view.timestamps,
            history: view.history, workflow: view.workflow, effects: try rawMembers(fields["effects"]))
    }

    private struct ClaimedView: Codable {
        var id: JobID
        var queue: String
        var type: String
        var state: JobState
        var attempt: Int
        var maxAttempts: Int
        var attemptBase: Int
        var backoff: BackoffPolicy
        var timeoutMs: Int?
        var failedParents: [String: ParentFailure]?
    }

    /// A claimed job as JSON, payload inline.
    public static func encode(_ job: ClaimedJob) -> String {
        let view = ClaimedView(
            id: job.id, queue: job.queue, type: job.type, state: job.state, attempt: job.attempt, maxAttempts: job.maxAttempts,
            attemptBase: job.attemptBase, backoff: job.backoff, timeoutMs: job.timeoutMs,
            failedParents: job.failedParents.isEmpty ? nil : job.failedParents)
        return encode(
            view, raw: [("payload", job.payload), ("parentResults", rawObject(job.parentResults)), ("effects", rawObject(job.effects))])
    }

    public static func decodeClaimedJob(_ text: String) throws -> ClaimedJob {
        let fields = try JSONScanner.objectFields(text)
        let view = try decode(ClaimedView.self, from: text)
        return ClaimedJob(
            id: view.id, queue: view.queue, type: view.type, payload: fields["payload"] ?? "null", state: view.state,
            attempt: view.attempt, maxAttempts: view.maxAttempts, attemptBase: view.attemptBase, backoff: view.backoff,
            timeoutMs: view.timeoutMs, parentResults: try rawMembers(fields["parentResults"]),
            failedParents: view.failedParents ?? [:], effects: try rawMembers(fields["effects"]))
    }

    /// `{"name":<value>,…}` from values that are JSON text already; `nil` for none, so an
    /// object without any is left out.
    static func rawObject(_ members: [String: String]) -> String? {
        guard !members.isEmpty else { return nil }
        return "{" + members.sorted { $0.key < $1.key }.map { "\(JSONScanner.quote($0.key)):\($0.value)" }.joined(separator: ",") + "}"
    }

    /// The members of a JSON object, each as its own JSON text; none for `nil`.
    static func rawMembers(_ text: String?) throws -> [String: String] {
        guard let text, text != "null" else { return [:] }
        return try JSONScanner.objectFields(text)
    }

    /// `[a,b,c]` from already-encoded elements.
    public static func array(_ elements: [String]) -> String {
        "[" + elements.joined(separator: ",") + "]"
    }
}

extension ReportOutcome: Codable {
    private enum CodingKeys: String, CodingKey { case applied, state }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let state = try container.decodeIfPresent(JobState.self, forKey: .state)
        if try container.decode(Bool.self, forKey: .applied), let state {
            self = .applied(state)
        } else {
            self = .stale(current: state)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .applied(let state):
            try container.encode(true, forKey: .applied)
            try container.encode(state, forKey: .state)
        case .stale(let current):
            try container.encode(false, forKey: .applied)
            try container.encodeIfPresent(current, forKey: .state)
        }
    }
}
