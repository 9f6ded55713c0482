import Synchronization

/// Counts handlers running at once and remembers the peak.
public final class Gauge: Sendable {
    public init() {}

    private let state = Mutex((now: 0, peak: 0))

    @discardableResult
    public func enter() -> Int {
        state.withLock {
            $0.now += 1
            $0.peak = max($0.peak, $0.now)
            return $0.now
        }
    }

    public func leave() { state.withLock { $0.now -= 1 } }

    public var peak: Int { state.withLock { $0.peak } }
    public var now: Int { state.withLock { $0.now } }

    public func waitUntilPeak(_ n: Int, or timeout: Duration) async {
        _ = await eventually(timeout: timeout) { self.peak >= n }
    }

    public func waitUntilRunning(_ n: Int, or timeout: Duration) async {
        _ = await eventually(timeout: timeout) { self.now >= n }
    }
}

/// Holds handlers until opened.
public final class Gate: Sendable {
    public init() {}

    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public func wait() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state -> Bool in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }

    public func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
