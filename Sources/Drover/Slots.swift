import DroverCore
import Synchronization

/// A worker's job slots: one per handler that may run at once. A slot is reserved before a
/// claim asks the store for jobs, so the fetcher and a completion report that claims more
/// (``Worker``'s report-and-refill) never take more jobs between them than there are slots.
///
/// Whoever claimed them, jobs are handed off here to the worker's run loop, which starts them
/// in its task group; so a fetcher blocked waiting for an empty queue never holds up jobs a
/// report claimed meanwhile.
final class Slots: Sendable {
    private struct State {
        var free: Int
        var closed = false
        var handedOff: [ClaimedJob] = []
        var claimMayBeLost = false
        /// The fetcher, waiting for a free slot.
        var fetcher: CheckedContinuation<Void, Never>?
        /// The run loop, waiting for jobs to start.
        var runner: CheckedContinuation<Void, Never>?
    }

    private let state: Mutex<State>

    init(capacity: Int) {
        self.state = Mutex(State(free: capacity))
    }

    /// Waits until a slot is free or ``close()`` was called (the fetcher; one task at a time).
    func waitForFree() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.free > 0 || state.closed { return true }
                state.fetcher = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Waits for jobs handed off and returns them; returns none once closed and drained (the
    /// run loop; one task at a time).
    func waitForHandedOff() async -> [ClaimedJob] {
        while true {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if !state.handedOff.isEmpty || state.closed { return true }
                    state.runner = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
            let (jobs, closed) = state.withLock { state in
                defer { state.handedOff = [] }
                return (state.handedOff, state.closed)
            }
            if !jobs.isEmpty || closed { return jobs }
        }
    }

    /// Takes every free slot and returns how many it took; none once closed.
    func reserveFree() -> Int {
        state.withLock { state in
            let taken = state.closed ? 0 : max(0, state.free)
            state.free -= taken
            return taken
        }
    }

    /// Returns `n` slots.
    func give(_ n: Int = 1) {
        guard n > 0 else { return }
        wake { $0.free += n }
    }

    /// Passes jobs claimed into reserved slots to the run loop, which starts them.
    func handOff(_ jobs: [ClaimedJob]) {
        guard !jobs.isEmpty else { return }
        wake { $0.handedOff += jobs }
    }

    /// Takes the jobs handed off and not yet started (at shutdown).
    func takeHandedOff() -> [ClaimedJob] {
        state.withLock { state in
            defer { state.handedOff = [] }
            return state.handedOff
        }
    }

    /// A claim into reserved slots failed after it may have reached the store: jobs may be
    /// held under the worker's name that it does not know of. The fetcher reconciles.
    func noteClaimMayBeLost() {
        state.withLock { $0.claimMayBeLost = true }
    }

    func takeClaimMayBeLost() -> Bool {
        state.withLock { state in
            defer { state.claimMayBeLost = false }
            return state.claimMayBeLost
        }
    }

    /// No more reservations; wakes the fetcher and the run loop so they notice the shutdown.
    func close() {
        wake { $0.closed = true }
    }

    /// Applies `change` and wakes whoever waits for what it may have made ready.
    private func wake(_ change: (inout State) -> Void) {
        let (fetcher, runner) = state.withLock { state -> (CheckedContinuation<Void, Never>?, CheckedContinuation<Void, Never>?) in
            change(&state)
            let fetcher = state.free > 0 || state.closed ? state.fetcher : nil
            let runner = !state.handedOff.isEmpty || state.closed ? state.runner : nil
            if fetcher != nil { state.fetcher = nil }
            if runner != nil { state.runner = nil }
            return (fetcher, runner)
        }
        fetcher?.resume()
        runner?.resume()
    }
}
