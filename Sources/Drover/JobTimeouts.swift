import DroverCore
import Synchronization

/// Enforces the run-time limits of a worker's jobs with one timer for all of them.
///
/// A timer per job (a sleeping task racing each handler) cost a timer registration, its
/// cancellation and two more tasks for every job, which the profile of short jobs showed as
/// thread wakeups. Here one task sleeps until the earliest deadline; a job that finishes in
/// time only adds and removes a dictionary entry.
final class JobTimeouts: Sendable {
    /// Identifies one watched job, for ``unwatch(_:)``.
    struct Token: Sendable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        let deadline: ContinuousClock.Instant
        let expire: @Sendable () -> Void
    }

    private struct State {
        var nextID: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
        /// When the timer task wakes next, if it is asleep; a nearer deadline wakes it early.
        var sleepingUntil: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let wakeup = Wakeup()

    /// Calls `expire` once `deadline` passes, unless ``unwatch(_:)`` comes first.
    func watch(until deadline: ContinuousClock.Instant, expire: @escaping @Sendable () -> Void) -> Token {
        let (token, nearer) = state.withLock { state -> (Token, Bool) in
            state.nextID += 1
            state.entries[state.nextID] = Entry(deadline: deadline, expire: expire)
            return (Token(id: state.nextID), state.sleepingUntil.map { deadline < $0 } ?? false)
        }
        if nearer { wakeup.fire() }
        return token
    }

    func unwatch(_ token: Token) {
        _ = state.withLock { $0.entries.removeValue(forKey: token.id) }
    }

    /// Expires jobs as their deadlines pass, until the task is cancelled.
    func run() async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let (expired, next) = state.withLock { state -> ([@Sendable () -> Void], ContinuousClock.Instant) in
                var expired: [@Sendable () -> Void] = []
                var next = now + .seconds(3600)
                for (id, entry) in state.entries {
                    if entry.deadline <= now {
                        expired.append(entry.expire)
                        state.entries[id] = nil
                    } else {
                        next = min(next, entry.deadline)
                    }
                }
                state.sleepingUntil = next
                return (expired, next)
            }
            for expire in expired { expire() }
            await wakeup.wait(timeout: next - now)
        }
    }
}
