import DroverCore
import DroverTestSupport
import Foundation
import Testing

// Unique jobs, on every store.
extension JobStoreContractTests {
    @Test(arguments: ContractKind.allCases)
    func aUniqueJobIsRefusedWhileOneIsUnfinishedAndAcceptedAfter(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let request = JobRequest(type: "report", payload: #"{"user":7}"#, unique: UniqueLock())
        let first = try await f.store.submit([request])[0]
        #expect(first.created && !first.duplicate)
        // Pending, then running: refused, with the holder's id and state.
        let again = try await f.store.submit([request])[0]
        #expect(!again.created && again.duplicate && again.id == first.id && again.state == .queued)
        // Another payload is another job; so is the same payload without `unique`.
        #expect(try await f.store.submit([JobRequest(type: "report", payload: #"{"user":8}"#, unique: UniqueLock())])[0].created)
        #expect(try await f.store.submit([JobRequest(type: "report", payload: #"{"user":7}"#)])[0].created)
        let claimed = try await f.store.claim(queues: ["default"], worker: "w", max: 1, start: true)
        #expect(claimed.map(\.id) == [first.id])
        let whileRunning = try await f.store.submit([request])[0]
        #expect(whileRunning.duplicate && whileRunning.id == first.id && whileRunning.state == .running)
        // Two in one batch: the second is the first's duplicate.
        let batch = try await f.store.submit([
            JobRequest(type: "sync", unique: UniqueLock(key: "all")), JobRequest(type: "other", unique: UniqueLock(key: "all")),
        ])
        #expect(batch[0].created && batch[1].duplicate && batch[1].id == batch[0].id)
        _ = try await f.store.complete([CompletionReport(job: claimed[0], result: "1")], worker: "w")
        let after = try await f.store.submit([request])[0]
        #expect(after.created && after.id != first.id)
        #expect(try await f.store.job(after.id, queue: nil)?.uniqueKey != nil)
        // A dead-lettered or cancelled holder frees its key too.
        #expect(try await f.store.cancel(after.id, queue: nil) == .cancelled)
        #expect(try await f.store.submit([request])[0].created)
    }

    @Test(arguments: ContractKind.allCases)
    func aUniqueLockWithATTLEndsWhenItExpires(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        let ttl = Duration.seconds(1)
        let request = JobRequest(type: "t", unique: UniqueLock(key: "k", ttl: ttl))
        let submitted = ContinuousClock.now
        let first = try await f.store.submit([request])[0]
        let soon = try await f.store.submit([request])[0]
        // Every lock was taken before this (the second submit too, if it came after the first
        // lock's end), so each ends before `ttl` from now.
        let taken = ContinuousClock.now
        // (A run so loaded that the second submit came after the TTL cannot check this part.)
        if taken - submitted < ttl { #expect(soon.duplicate && soon.id == first.id) }
        // The lock's end is the subject: only time passing shows it.
        try await Task.sleep(until: taken + ttl + .milliseconds(50))
        let later = try await f.store.submit([request])[0]
        #expect(later.created && later.id != first.id && later.id != soon.id)
    }

    @Test(arguments: ContractKind.allCases)
    func badUniqueLocksAreRefusedAndNothingIsWritten(_ kind: ContractKind) async throws {
        let f = try await ContractFixture.make(kind)
        defer { Task { await f.tearDown() } }
        for lock in [
            UniqueLock(key: ""), UniqueLock(key: "has space"), UniqueLock(ttl: .zero), UniqueLock(ttl: UniqueLock.maxTTL + .seconds(1)),
        ] {
            await #expect(throws: JobError.self, "\(lock)") { try await f.store.submit([JobRequest(type: "t", unique: lock)]) }
        }
        #expect(try await f.store.queueCounts().isEmpty)
    }
}
