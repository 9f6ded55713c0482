import DroverCore
import Foundation
import Testing

@Suite struct StateMachineTests {
    static let legal: Set<[JobState]> = [
        [.submitted, .queued], [.queued, .assigned], [.assigned, .running], [.assigned, .failed], [.running, .completed],
        [.running, .failed], [.failed, .retryQueued], [.failed, .deadLetter], [.retryQueued, .queued], [.deadLetter, .queued],
        [.submitted, .scheduled], [.scheduled, .queued], [.scheduled, .cancelled], [.queued, .cancelled], [.assigned, .cancelled],
        [.running, .cancelled], [.retryQueued, .cancelled], [.submitted, .waiting], [.waiting, .queued], [.waiting, .cancelled],
    ]

    @Test func exactlyTheSpecifiedTransitionsAreLegal() {
        for from in JobState.allCases {
            for to in JobState.allCases {
                #expect(from.canMove(to: to) == Self.legal.contains([from, to]), "\(from) → \(to)")
            }
        }
    }

    @Test func terminalStates() {
        #expect(JobState.allCases.filter(\.isTerminal) == [.completed, .deadLetter, .cancelled])
        #expect(JobState.completed.legalNextStates.isEmpty)
        #expect(JobState.cancelled.legalNextStates.isEmpty, "a cancelled job never runs again")
    }

    @Test func everyStateHasItsOwnTimestampField() {
        #expect(Set(JobState.allCases.map(\.timestampField)).count == JobState.allCases.count)
    }
}

@Suite struct BackoffTests {
    @Test func fixedWaitsTheSameEveryTime() {
        let policy = BackoffPolicy.fixed(ms: 500)
        #expect((1...5).map { policy.delayMs(afterAttempt: $0, random: 0.5) } == [500, 500, 500, 500, 500])
    }

    @Test func linearGrowsByTheBase() {
        let policy = BackoffPolicy.linear(baseMs: 100, maxMs: 350)
        #expect((1...5).map { policy.delayMs(afterAttempt: $0, random: 0.5) } == [100, 200, 300, 350, 350])
    }

    @Test func exponentialDoublesUpToTheCap() {
        let policy = BackoffPolicy.exponential(baseMs: 100, maxMs: 1000, jitter: 0)
        #expect((1...6).map { policy.delayMs(afterAttempt: $0) } == [100, 200, 400, 800, 1000, 1000])
        // Huge attempt numbers do not overflow.
        #expect(policy.delayMs(afterAttempt: 10_000) == 1000)
    }

    @Test func jitterSpreadsWithinItsFractionAndNeverPastTheCap() {
        let policy = BackoffPolicy.exponential(baseMs: 1000, maxMs: 2000, jitter: 0.2)
        #expect(policy.delayMs(afterAttempt: 1, random: 0) == 800)
        #expect(policy.delayMs(afterAttempt: 1, random: 0.5) == 1000)
        #expect(policy.delayMs(afterAttempt: 1, random: 0.999_999) == 1200)
        #expect(policy.delayMs(afterAttempt: 3, random: 0.999_999) == 2000)
        #expect(policy.delayMs(afterAttempt: 3, random: 0) == 1600)
        let samples = (0..<200).map { _ in policy.delayMs(afterAttempt: 1) }
        #expect(samples.allSatisfy { (800...1200).contains($0) })
        #expect(Set(samples).count > 10)
    }

    @Test func invalidPoliciesAreRefused() {
        #expect(throws: JobError.self) { try BackoffPolicy(strategy: .fixed, baseMs: -1).validate() }
        #expect(throws: JobError.self) { try BackoffPolicy(strategy: .linear, baseMs: 10, maxMs: -5).validate() }
        // A cap below the base is allowed: every delay is the cap.
        #expect(BackoffPolicy(strategy: .linear, baseMs: 10, maxMs: 5).delayMs(afterAttempt: 3) == 5)
        #expect(throws: JobError.self) { try BackoffPolicy(strategy: .exponential, baseMs: 10, jitter: 1.5).validate() }
    }

    @Test func encodesAsReadableJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(BackoffPolicy.exponential(baseMs: 1000, maxMs: 60000, jitter: 0.2)), as: UTF8.self)
        #expect(text == #"{"baseMs":1000,"jitter":0.2,"maxMs":60000,"strategy":"exponential"}"#)
    }
}

@Suite struct JobIDTests {
    @Test func idsAreUniqueAndSortByCreationTime() {
        let ids = (0..<1000).map { JobID(milliseconds: 1_700_000_000_000 + UInt64($0)) }
        #expect(Set(ids).count == 1000)
        #expect(ids == ids.sorted())
        #expect(ids.map(\.rawValue) == ids.map(\.rawValue).sorted())
        #expect(ids[0].milliseconds == 1_700_000_000_000)
    }

    @Test func manyIdsInOneMillisecondAreStillUnique() {
        #expect(Set((0..<10_000).map { _ in JobID(milliseconds: 42) }).count == 10_000)
    }

    @Test func parsesOnlyULIDs() {
        let id = JobID()
        #expect(JobID(id.rawValue) == id)
        #expect(JobID(id.rawValue.lowercased()) == id)
        #expect(JobID("not-an-id") == nil)
        #expect(JobID(String(id.rawValue.dropLast())) == nil)
        #expect(JobID(String(id.rawValue.dropLast()) + "U") == nil)  // U is not in Crockford's alphabet
    }
}

@Suite struct NameTests {
    @Test(arguments: ["default", "emails", "high-priority", "v2.reports", "a_b"])
    func acceptsQueueNames(_ name: String) throws {
        try Names.validateQueue(name)
    }

    @Test(arguments: ["", "with space", "a:b", "{q}", "ü", "tab\t", String(repeating: "x", count: 65)])
    func refusesQueueNames(_ name: String) {
        #expect(throws: JobError.self) { try Names.validateQueue(name) }
    }

    @Test func typesMayHaveNamespaces() throws {
        try Names.validateType("billing/invoice.send:v2")
        #expect(throws: JobError.self) { try Names.validateType("rm -rf") }
    }
}
