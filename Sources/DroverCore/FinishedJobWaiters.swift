import Synchronization

/// Wakes tasks waiting for a job to finish. Both stores feed it: the Redis store from the
/// `drover:finished` channel, the in-memory store directly.
package final class FinishedJobWaiters: Sendable {
    package init() {}

    private let waiters = Mutex<[JobID: [ObjectIdentifier: Wakeup]]>([:])

    /// Wakes everyone waiting on `id`.
    package func notify(_ id: JobID) {
        let woken = waiters.withLock { $0[id].map { Array($0.values) } ?? [] }
        for wakeup in woken { wakeup.fire() }
    }

    /// Calls `read` until it returns a finished job, `nil` or the deadline passes; between
    /// reads it sleeps until `notify(id)` or `recheck` has passed (the safety net for a
    /// notification lost while a connection was down).
    package func wait(
        for id: JobID, timeout: Duration, recheck: Duration = .seconds(2),
        read: @Sendable () async throws -> Job?
    ) async throws -> Job? {
        let wakeup = Wakeup()
        let key = ObjectIdentifier(wakeup)
        waiters.withLock { $0[id, default: [:]][key] = wakeup }
        defer {
            waiters.withLock {
                $0[id]?[key] = nil
                if $0[id]?.isEmpty == true { $0[id] = nil }
            }
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            let job = try await read()
            guard let job, !job.state.isTerminal else { return job }
            let left = deadline - .now
            guard left > .zero else { return job }
            await wakeup.wait(timeout: min(left, recheck))
            try Task.checkCancellation()
        }
    }
}

/// A one-shot-at-a-time signal: `fire` wakes the current `wait`, or the next one if nobody
/// is waiting yet.
package final class Wakeup: Sendable {
    private enum State {
        case idle
        case fired
        case waiting(CheckedContinuation<Void, Never>)
    }

    private let state = Mutex(State.idle)

    package init() {}

    package func fire() {
        let continuation: CheckedContinuation<Void, Never>? = state.withLock { state in
            switch state {
            case .waiting(let c):
                state = .idle
                return c
            case .idle, .fired:
                state = .fired
                return nil
            }
        }
        continuation?.resume()
    }

    /// Returns when fired, when `timeout` passes or when the task is cancelled.
    package func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForFire() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForFire() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    switch state {
                    case .fired:
                        state = .idle
                        return true
                    case .idle:
                        // Checked under the lock that onCancel takes, so a cancellation is
                        // either seen here or finds the stored continuation.
                        if Task.isCancelled { return true }
                        state = .waiting(continuation)
                        return false
                    case .waiting:
                        // One waiter at a time: a second one just returns.
                        return true
                    }
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, Never>? = state.withLock { state in
                if case .waiting(let c) = state {
                    state = .idle
                    return c
                }
                return nil
            }
            continuation?.resume()
        }
    }
}
