import DroverTestSupport
import Testing

@testable import Drover

/// What an isolated job's child is told, and what its handler then sees.
@Suite struct ProcessIsolationTests {
    func context(attempts: Attempts) -> JobContext {
        JobContext(
            id: JobID(), queue: "q", type: "t", attempt: attempts.attempt, maxAttempts: attempts.maxAttempts,
            isLastAttempt: attempts.isLast, worker: "w", logger: quietLogger, parentResults: ["extract": #"{"rows":3}"#],
            ledger: EffectLedger(recorded: ["charge": "1"], record: nil))
    }

    /// After an operator retried a dead letter that had used all 3 of its attempts, its next
    /// run is hand-out 4 but only the first of a fresh set: not the last.
    @Test func aChildSeesTheWorkersLastAttemptRuleAfterAnOperatorRetry() throws {
        let retried = Attempts(attempt: 4, attemptBase: 3, maxAttempts: 3)
        let (job, payload) = try IsolatedJob.decode(IsolatedJob(context(attempts: retried)).encoded(payload: #"{"a":[1,2]}"#))
        let child = job.context(logger: quietLogger)
        #expect(payload == #"{"a":[1,2]}"#)
        #expect(child.attempt == 4 && child.maxAttempts == 3)
        #expect(child.isLastAttempt == false)
        #expect(child.parentResults == ["extract": #"{"rows":3}"#])
    }

    /// A child reads the steps earlier attempts recorded, and is refused a new one: it has no store.
    @Test func aChildSeesRecordedEffectsAndCannotRecordNewOnes() async throws {
        let (job, _) = try IsolatedJob.decode(
            IsolatedJob(context(attempts: Attempts(attempt: 2, attemptBase: 0, maxAttempts: 3))).encoded(payload: "1"))
        let child = job.context(logger: quietLogger)
        #expect(try await child.once("charge") { 99 } == 1)
        await #expect(throws: JobFailure.self) { _ = try await child.once("email") { 1 } }
    }

    @Test func aChildOnTheLastOfAFreshSetKnowsIt() throws {
        let last = Attempts(attempt: 6, attemptBase: 3, maxAttempts: 3)
        let (job, _) = try IsolatedJob.decode(IsolatedJob(context(attempts: last)).encoded(payload: "null"))
        #expect(job.context(logger: quietLogger).isLastAttempt)
    }
}
