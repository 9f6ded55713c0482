import Synchronization

/// A result delivered exactly once to one waiting task, whichever comes first: the result or
/// the wait. Later deliveries are ignored, so racing deliverers (an answer, a timeout, a lost
/// connection) need no coordination of their own.
package final class OneShot<Value: Sendable>: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Value, any Error>)
        case finished(Result<Value, any Error>)
    }

    private let state = Mutex(State.idle)

    package init() {}

    /// Waits for the result. `registered` runs once the waiter is in place (or the result is
    /// already there), so whatever it starts cannot deliver before anyone listens.
    package func wait(registered: () -> Void = {}) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let early = state.withLock { state -> Result<Value, any Error>? in
                if case .finished(let result) = state { return result }
                state = .waiting(continuation)
                return nil
            }
            if let early { return continuation.resume(with: early) }
            registered()
        }
    }

    package func finish(_ result: Result<Value, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<Value, any Error>? in
            switch state {
            case .idle:
                state = .finished(result)
                return nil
            case .waiting(let continuation):
                state = .finished(result)
                return continuation
            case .finished:
                return nil
            }
        }
        continuation?.resume(with: result)
    }
}
