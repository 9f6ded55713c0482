import DroverCore
import Foundation
import Synchronization

extension JobContext {
    /// A parent's result decoded as `T`; `nil` if the job has no completed parent of that name.
    public func parentResult<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T? {
        guard let text = parentResults[name] else { return nil }
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    /// Runs `body` once for this job, whatever happens to its attempts: its result is recorded
    /// in the job's effect ledger in Redis (fenced by this worker and attempt, like a report),
    /// and a later attempt of the job (after a crash, a timeout or a failure further on) gets
    /// the recorded result back without running `body` again.
    ///
    /// ```swift
    /// let receipt = try await context.once("charge-card") {
    ///     try await payments.charge(order, idempotencyKey: context.idempotencyKey(for: "charge-card"))
    /// }
    /// ```
    ///
    /// What it cannot do: if the worker dies after `body` ran and before the record reached
    /// Redis, the next attempt runs `body` again. A `body` with an effect outside Redis should
    /// pass that system ``idempotencyKey(for:)``, which is the same on every attempt. If this
    /// worker no longer holds the job (it was reassigned or cancelled meanwhile), nothing is
    /// recorded and ``JobFailure/notHeld(step:current:)`` is thrown: stop, the job is not yours.
    public func once<T: Codable & Sendable>(_ step: String, _ body: () async throws -> T) async throws -> T {
        let text = try await ledger.once(step) { String(decoding: try JSONEncoder().encode(try await body()), as: UTF8.self) }
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    /// A key for an outside system's own idempotency (a payment provider's, a mail API's):
    /// the same for every attempt of this job's `step`, different for every job.
    public func idempotencyKey(for step: String) -> String { "\(id):\(step)" }
}

/// One job's effect ledger as its handler uses it: the steps recorded already (handed over
/// with the claim) and the store call that records a new one.
final class EffectLedger: Sendable {
    typealias Record = @Sendable (_ step: String, _ value: String) async throws -> EffectRecord

    private let recorded: Mutex<[String: String]>
    private let record: Record?

    /// `record` `nil`: a ledger that can only read (a handler in a child process).
    init(recorded: [String: String], record: Record?) {
        self.recorded = Mutex(recorded)
        self.record = record
    }

    /// Every step recorded so far, by step.
    var recordedSteps: [String: String] { recorded.withLock { $0 } }

    func once(_ step: String, _ body: () async throws -> String) async throws -> String {
        try Names.validateEffectStep(step)
        if let value = recorded.withLock({ $0[step] }) { return value }
        guard let record else { throw JobFailure.noLedger(step: step) }
        let value = try await body()
        switch try await record(step, value) {
        case .recorded(let kept):
            recorded.withLock { $0[step] = kept }
            return kept
        case .stale(let current):
            throw JobFailure.notHeld(step: step, current: current)
        }
    }
}
