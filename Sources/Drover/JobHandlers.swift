import DroverCore
import Foundation
import Logging

/// What a handler knows about the job it runs.
public struct JobContext: Sendable {
    public let id: JobID
    public let queue: String
    public let type: String
    /// 1 on the first run. Drover delivers at least once: a handler may see the same job
    /// again after a crash, so make its effects idempotent (the id is a good key).
    public let attempt: Int
    public let maxAttempts: Int
    /// True when a failure now sends the job to the dead-letter queue.
    public let isLastAttempt: Bool
    /// The worker running the job.
    public let worker: String
    /// A logger with the job's id, queue, type, attempt and worker attached.
    public let logger: Logger
    /// For a job of a workflow: each completed parent's result (JSON text) by the parent's
    /// name. A parent that ended without completing (its edge said `continue`) has none.
    public let parentResults: [String: String]
    /// For a job that runs although some parents did not complete (edge policy `continue`,
    /// as a batch's `onComplete` callback has): how each of those ended, by name.
    public let failedParents: [String: ParentFailure]
    /// The job's effect ledger (see ``once(_:_:)``).
    let ledger: EffectLedger

    init(
        id: JobID, queue: String, type: String, attempt: Int, maxAttempts: Int, isLastAttempt: Bool, worker: String, logger: Logger,
        parentResults: [String: String] = [:], failedParents: [String: ParentFailure] = [:], ledger: EffectLedger
    ) {
        self.id = id
        self.queue = queue
        self.type = type
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.isLastAttempt = isLastAttempt
        self.worker = worker
        self.logger = logger
        self.parentResults = parentResults
        self.failedParents = failedParents
        self.ledger = ledger
    }
}

/// The handlers a worker runs, by job type.
///
/// ```swift
/// var handlers = JobHandlers()
/// handlers.register("resize") { (image: ResizeRequest, context) in
///     try await resize(image)          // a thrown error fails the job; it is retried
///     return ResizeResult(path: "…")    // stored as the job's result
/// }
/// ```
public struct JobHandlers: Sendable {
    /// A handler on JSON text: takes the payload, returns the result.
    public typealias RawHandler = @Sendable (_ payload: String, _ context: JobContext) async throws -> String

    private var handlers: [String: RawHandler] = [:]

    public init() {}

    /// The job types with a handler.
    public var types: [String] { handlers.keys.sorted() }

    public func handler(for type: String) -> RawHandler? { handlers[type] }

    /// Registers a handler that works on JSON text directly: no decoding, no re-encoding.
    /// The result must be JSON text too.
    public mutating func registerRaw(_ type: String, _ handler: @escaping RawHandler) {
        precondition((try? Names.validateType(type)) != nil, "invalid job type '\(type)'")
        handlers[type] = handler
    }

    /// Registers a handler whose payload is decoded as `Payload` and whose result is encoded
    /// as JSON. A payload that does not decode fails the job with the decoder's reason.
    public mutating func register<Payload: Decodable & Sendable, Result: Encodable & Sendable>(
        _ type: String, _ handler: @escaping @Sendable (Payload, JobContext) async throws -> Result
    ) {
        registerRaw(type) { payload, context in
            let decoded: Payload
            do {
                decoded = try JSONDecoder().decode(Payload.self, from: Data(payload.utf8))
            } catch {
                throw JobFailure.undecodablePayload(type: type, expected: String(describing: Payload.self), reason: Self.describe(error))
            }
            let result = try await handler(decoded, context)
            return String(decoding: try JSONEncoder().encode(result), as: UTF8.self)
        }
    }

    /// Registers a handler that returns nothing (its job's result is `null`).
    public mutating func register<Payload: Decodable & Sendable>(
        _ type: String, _ handler: @escaping @Sendable (Payload, JobContext) async throws -> Void
    ) {
        register(type) { (payload: Payload, context: JobContext) -> JSONNull in
            try await handler(payload, context)
            return JSONNull()
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing key '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case DecodingError.typeMismatch(let type, let context):
            return "expected \(type) at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.valueNotFound(let type, let context):
            return "null where \(type) was expected at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted(let context):
            return context.debugDescription
        default:
            return String(describing: error)
        }
    }
}

/// Encodes as JSON `null`.
struct JSONNull: Encodable, Sendable {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encodeNil()
    }
}

/// Why a worker failed a job without (or around) its handler.
public enum JobFailure: Error, Sendable, CustomStringConvertible {
    case noHandler(type: String, worker: String)
    case undecodablePayload(type: String, expected: String, reason: String)
    case timedOut(after: Duration)
    case invalidResult(String)
    /// ``JobContext/once(_:_:)`` found the job no longer held by this worker: it was
    /// reassigned, cancelled or has ended, and the step was not recorded.
    case notHeld(step: String, current: JobState?)
    /// ``JobContext/once(_:_:)`` in a handler run in a child process, which has no store.
    case noLedger(step: String)

    public var description: String {
        switch self {
        case .noHandler(let type, let worker):
            return "no handler for job type '\(type)' on worker \(worker)"
        case .undecodablePayload(let type, let expected, let reason):
            return "payload of '\(type)' does not decode as \(expected): \(reason)"
        case .timedOut(let after):
            return "timed out after \(after)"
        case .invalidResult(let reason):
            return "handler returned invalid JSON: \(reason)"
        case .notHeld(let step, let current):
            return "effect '\(step)' not recorded: the job is no longer this worker's (it is \(current?.rawValue ?? "gone"))"
        case .noLedger(let step):
            return "effect '\(step)' cannot be recorded by a handler in a child process; run it in the worker"
        }
    }
}
