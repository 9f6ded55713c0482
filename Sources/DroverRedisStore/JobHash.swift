import DroverCore
import DroverRedis
import Foundation

/// The fields of a job hash (`drover:{q}:job:<id>`): the one list of their names. The Lua
/// prelude gets them as its `FIELD` table, so the functions and this codec cannot disagree.
/// Each state's timestamp field (`queuedAt`, …) comes from ``JobState/timestampField``.
enum JobField: String, CaseIterable {
    case id, queue, type, payload, state, attempt, attemptBase, maxAttempts, backoff, timeoutMs, idempotencyKey
    case worker, error, result
    /// 1 to 9 for a job above the default priority (absent: 0).
    case priority
    /// The unique key the job holds while unfinished.
    case uniqueKey
    /// When a SCHEDULED or RETRY_QUEUED job is due (ms).
    case runAt
    /// When a cancel of the running job was asked for (ms).
    case cancelRequestedAt
    /// `1` while an ASSIGNED or RUNNING job holds one of its queue's concurrency slots.
    case concurrencySlot
    /// The transitions, a JSON array, and how many it holds (so appending needs no decode).
    case history, historyLength
    /// A workflow job's workflow id and its name in it.
    case workflow, workflowJob
    /// A workflow job's parents' names, space-separated: each completed one's result is in the
    /// field `parent:<name>`.
    case parents
    /// How many of a WAITING job's parents have not ended yet.
    case waitingFor
    /// A workflow job's edges to its children not yet told of its end: `<id>:<policy>`,
    /// space-separated.
    case children
    /// The steps of the job's effect ledger, space-separated: each one's result is in the
    /// field `effect:<step>`.
    case effects

    /// The field of a completed parent's result in its child's hash.
    static func parentResult(_ name: String) -> String { "parent:" + name }
    /// The field of an effect ledger step's result.
    static func effect(_ step: String) -> String { "effect:" + step }
}

/// Reads and writes jobs as the Redis store keeps them: a hash of text fields.
enum JobHash {
    static func encode(_ backoff: BackoffPolicy) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(backoff)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func decodeBackoff(_ text: String) -> BackoffPolicy? {
        try? JSONDecoder().decode(BackoffPolicy.self, from: Data(text.utf8))
    }

    /// The space-separated words of a list field.
    static func words(_ text: String?) -> [String] {
        (text ?? "").split(separator: " ").map(String.init)
    }

    /// An `HGETALL` reply as a dictionary.
    static func fields(_ reply: RESPValue) -> [String: String] {
        let flat = reply.array ?? []
        var fields: [String: String] = [:]
        fields.reserveCapacity(flat.count / 2)
        for i in stride(from: 0, to: flat.count - 1, by: 2) {
            if let k = flat[i].string, let v = flat[i + 1].string { fields[k] = v }
        }
        return fields
    }

    /// The job of an `HGETALL` reply, `nil` for no hash.
    static func decodeJob(_ reply: RESPValue) throws -> Job? {
        let f = fields(reply)
        guard !f.isEmpty else { return nil }
        func text(_ field: JobField) -> String? { f[field.rawValue] }
        func int(_ field: JobField) -> Int? { text(field).flatMap { Int($0) } }
        guard let id = text(.id).flatMap(JobID.init), let state = text(.state).flatMap(JobState.init(rawValue:)) else {
            throw RedisError.unexpectedReply("a job hash without a valid id or state")
        }
        var timestamps: [String: Int64] = [:]
        for s in JobState.allCases {
            if let t = f[s.timestampField].flatMap({ Int64($0) }) { timestamps[s.timestampField] = t }
        }
        let history = text(.history).flatMap { try? JSONDecoder().decode([JobTransition].self, from: Data($0.utf8)) } ?? []
        return Job(
            id: id, queue: text(.queue) ?? "", type: text(.type) ?? "", payload: text(.payload) ?? "null", state: state,
            attempt: int(.attempt) ?? 0, maxAttempts: int(.maxAttempts) ?? 1, attemptBase: int(.attemptBase) ?? 0,
            backoff: text(.backoff).flatMap(decodeBackoff) ?? .standard, timeoutMs: int(.timeoutMs),
            idempotencyKey: text(.idempotencyKey), priority: int(.priority) ?? 0,
            uniqueKey: text(.uniqueKey), worker: text(.worker), error: text(.error),
            result: text(.result),
            runAt: text(.runAt).flatMap { Int64($0) }, cancelRequestedAt: text(.cancelRequestedAt).flatMap { Int64($0) },
            timestamps: timestamps, history: history,
            workflow: text(.workflow).flatMap(JobID.init).map {
                WorkflowMembership(workflow: $0, name: text(.workflowJob) ?? "", waitingFor: int(.waitingFor) ?? 0)
            },
            effects: Dictionary(
                uniqueKeysWithValues: words(text(.effects)).compactMap { step in f[JobField.effect(step)].map { (step, $0) } }))
    }
}
