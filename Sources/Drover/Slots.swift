import Synchronization

/// Counts a worker's free job slots; the fetch loop waits here for room before it takes more.
final class Slots: Sendable {
    private struct State {
        var free: Int
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state: Mutex<State>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        self.state = Mutex(State(free: capacity))
    }

    var free: Int { state.withLock { $0.free } }
    var used: Int { capacity - free }

    /// Waits until at least one slot is free and returns how many are. Only one task (the
    /// fetch loop) waits at a time; it is the only one that takes slots.
    func waitForFree() async -> Int {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.free > 0 { return true }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
        return free
    }

    func take(_ n: Int) {
        state.withLock { $0.free -= n }
    }

    func give() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.free += 1
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Wakes a waiting fetch loop without freeing a slot, so it can notice a shutdown.
    func wakeWaiter() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}
