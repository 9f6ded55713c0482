import DroverCore
import Synchronization

/// Sends completion reports in batches without ever waiting to fill one: the first report goes
/// at once, and reports that finish while a call is on its way go together in the next call.
/// A busy worker makes one round trip (and one function call) for many jobs; an idle one is
/// not slowed down by a timer. The worker's `send` also claims jobs for the freed slots.
final class CompletionBatcher: Sendable {
    /// Reports in one call at most: a batch is one function run, which holds Redis meanwhile.
    static let maxBatch = 64

    private let send: @Sendable ([CompletionReport]) async throws -> [ReportOutcome]
    private let state = Mutex(State())

    private struct State {
        var pending: [(CompletionReport, OneShot<ReportOutcome>)] = []
        var sending = false
    }

    init(send: @escaping @Sendable ([CompletionReport]) async throws -> [ReportOutcome]) {
        self.send = send
    }

    /// Reports one completion and returns its outcome (or the error of the call it went in).
    func complete(_ report: CompletionReport) async throws -> ReportOutcome {
        let outcome = OneShot<ReportOutcome>()
        let startSending = state.withLock { state -> Bool in
            state.pending.append((report, outcome))
            if state.sending { return false }
            state.sending = true
            return true
        }
        if startSending { Task { await self.drain() } }
        return try await outcome.wait()
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [(CompletionReport, OneShot<ReportOutcome>)] in
                let batch = Array(state.pending.prefix(Self.maxBatch))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.sending = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                let outcomes = try await send(batch.map(\.0))
                for (i, (_, outcome)) in batch.enumerated() {
                    outcome.finish(i < outcomes.count ? .success(outcomes[i]) : .failure(CompletionBatcherError.missingOutcome))
                }
            } catch {
                for (_, outcome) in batch { outcome.finish(.failure(error)) }
            }
        }
    }
}

enum CompletionBatcherError: Error {
    case missingOutcome
}
