import DroverCore
import DroverRedis
import Foundation
import Logging
import Synchronization

/// The blocking half of a claim: one `BLMOVE` per worker and queue at most, each on a
/// connection of its own (a blocked command holds its connection), left running across calls
/// so that nothing it moves is dropped: its result waits until a later claim picks it up.
///
/// A connection belongs to one worker and queue. It is closed when its worker reconciles or
/// stops, and, because a worker may vanish without either (a remote worker killed behind a
/// master), when it has carried no fetch for `idleTimeout`: otherwise a master would keep a
/// Redis connection for every remote worker it ever served.
final class BlockingFetcher: Sendable {
    struct Key: Hashable {
        var worker: String
        var queue: String
    }

    /// One worker's fetch from one queue.
    private enum Fetch {
        /// Blocked in Redis; `connection` is the `CLIENT ID` to unblock it with, once known.
        case inFlight(connection: Int?)
        /// The id it moved into the worker's active list, not yet claimed.
        case moved(String)
        case failed(RedisError)
    }

    private struct Lane {
        var client: RedisClient
        var fetch: Fetch?
        /// When the last fetch on this connection ended.
        var idleSince: ContinuousClock.Instant
    }

    /// A queue the worker is not to fetch from for now: its limits let nothing more start.
    private struct Hold {
        var until: ContinuousClock.Instant
        /// Waiting for a running job of the queue to end (the concurrency limit), which ends
        /// the hold early.
        var forSlot: Bool
    }

    private struct State {
        var lanes: [Key: Lane] = [:]
        var holds: [Key: Hold] = [:]
        /// Fired when one of the worker's fetches ends.
        var wakeups: [String: Wakeup] = [:]
        /// Workers whose fetches were interrupted: their wait in progress returns at once.
        var released: Set<String> = []
    }

    private let configuration: RedisConfiguration
    private let keys: KeySchema
    private let idleTimeout: Duration
    private let logger: Logger
    private let state = Mutex(State())

    init(configuration: RedisConfiguration, keys: KeySchema, idleTimeout: Duration, logger: Logger) {
        self.configuration = configuration
        self.keys = keys
        self.idleTimeout = idleTimeout
        self.logger = logger
    }

    /// Open fetch connections, for tests and `drover bench`.
    var connectionCount: Int { state.withLock { $0.lanes.count } }

    /// The signal the worker's fetches fire when they end, created on first use.
    func wakeup(worker: String) -> Wakeup {
        state.withLock { state in
            if let wakeup = state.wakeups[worker] { return wakeup }
            let wakeup = Wakeup()
            state.wakeups[worker] = wakeup
            return wakeup
        }
    }

    /// A new wait of the worker's begins: an earlier interruption no longer applies.
    func beginWait(worker: String) {
        state.withLock { _ = $0.released.remove(worker) }
    }

    func isReleased(worker: String) -> Bool {
        state.withLock { $0.released.contains(worker) }
    }

    /// Starts a `BLMOVE` from `queue` into the worker's active list unless one is running or
    /// its result is still unclaimed. Closes the connections of other workers that have been
    /// idle past the timeout.
    func startIfIdle(worker: String, queue: String, timeout: Duration) {
        let key = Key(worker: worker, queue: queue)
        let (client, stale) = state.withLock { state -> (RedisClient?, [RedisClient]) in
            let stale = Self.removeIdle(&state, olderThan: .now - idleTimeout, except: key)
            if state.lanes[key]?.fetch != nil { return (nil, stale) }
            var lane = state.lanes[key] ?? Lane(client: makeClient(for: key), fetch: nil, idleSince: .now)
            lane.fetch = .inFlight(connection: nil)
            state.lanes[key] = lane
            return (lane.client, stale)
        }
        if !stale.isEmpty { Task { for client in stale { await client.close() } } }
        guard let client else { return }
        let q = keys.queue(queue)
        let seconds = String(format: "%.3f", max(0.01, Double(timeout.milliseconds) / 1000))
        let command = RedisCommand("BLMOVE", q.queued, q.active(worker: worker), "RIGHT", "LEFT", seconds)
        let replyTimeout = timeout + client.configuration.commandTimeout
        Task {
            let fetch: Fetch?
            do {
                // Known before blocking, so `interrupt` can end the BLMOVE from another
                // connection with CLIENT UNBLOCK, in order with everything else Redis does.
                // Under Redis Cluster both go to the queue's node.
                let connection = try await client.send(RedisCommand("CLIENT", "ID").pinned(toSlotOf: q.queued)).int
                self.state.withLock { $0.lanes[key]?.fetch = .inFlight(connection: connection) }
                fetch = try await client.send(command, timeout: replyTimeout).string.map(Fetch.moved)
            } catch {
                fetch = .failed((error as? RedisError) ?? .connectionClosed)
            }
            let wakeup = self.state.withLock { state -> Wakeup? in
                state.lanes[key]?.fetch = fetch
                state.lanes[key]?.idleSince = .now
                return state.wakeups[worker]
            }
            wakeup?.fire()
        }
    }

    private func makeClient(for key: Key) -> RedisClient {
        var configuration = self.configuration
        configuration.clientName = configuration.clientName.map { "\($0).fetch.\(key.queue)" }
        return RedisClient(configuration: configuration, logger: logger)
    }

    /// Takes out the lanes with no fetch, idle since before `cutoff`, and returns their clients.
    private static func removeIdle(_ state: inout State, olderThan cutoff: ContinuousClock.Instant, except kept: Key) -> [RedisClient] {
        let idle = state.lanes.filter { $0.key != kept && $0.value.fetch == nil && $0.value.idleSince < cutoff }
        for key in idle.keys { state.lanes[key] = nil }
        return idle.values.map(\.client)
    }

    /// The longest a worker waits for a concurrency slot without hearing of one: a job
    /// claimed before its queue had a limit frees its slot without a word.
    static let slotWaitCap: Duration = .seconds(1)

    /// Records what a claim from `queue` learnt of its limits: `nil` ends a hold.
    func hold(worker: String, queue: String, _ limit: ClaimFunction.ClaimLimit?) {
        let key = Key(worker: worker, queue: queue)
        state.withLock { state in
            switch limit {
            case nil: state.holds[key] = nil
            case .rate(let wait): state.holds[key] = Hold(until: .now + wait, forSlot: false)
            case .concurrency: state.holds[key] = Hold(until: .now + Self.slotWaitCap, forSlot: true)
            }
        }
    }

    /// Whether the worker is to start no fetch from `queue` for now.
    func isHeld(worker: String, queue: String) -> Bool {
        state.withLock { state in state.holds[Key(worker: worker, queue: queue)].map { $0.until > .now } ?? false }
    }

    /// Whether `queue` has no token for the worker yet: by the store's clock none comes before
    /// the hold ends (unless the limits change, which ends it), so a claim can wait. A slot,
    /// by contrast, may free at any moment.
    func awaitsToken(worker: String, queue: String) -> Bool {
        state.withLock { state in
            state.holds[Key(worker: worker, queue: queue)].map { !$0.forSlot && $0.until > .now } ?? false
        }
    }

    /// Whether the worker has a hold in force on one of `queues`.
    func hasHolds(worker: String, queues: [String]) -> Bool {
        queues.contains { isHeld(worker: worker, queue: $0) }
    }

    /// When the first of the worker's holds on `queues` ends, if any is in force.
    func firstHoldEnd(worker: String, queues: [String]) -> ContinuousClock.Instant? {
        state.withLock { state in
            queues.compactMap { state.holds[Key(worker: worker, queue: $0)]?.until }.filter { $0 > .now }.min()
        }
    }

    /// A job of the queue whose limits key is `limitsKey` let its slot go, or the limits
    /// changed: holds on it end, and the workers waiting are woken.
    func limitsEased(limitsKey: String) {
        let wakeups = state.withLock { state -> [Wakeup] in
            let eased = state.holds.keys.filter { keys.queue($0.queue).limits == limitsKey }
            for key in eased { state.holds[key] = nil }
            return Set(eased.map(\.worker)).compactMap { state.wakeups[$0] }
        }
        for wakeup in wakeups { wakeup.fire() }
    }

    /// Whether a fetch of the worker's from one of `queues` has ended (moved an id or failed).
    func hasEnded(worker: String, queues: [String]) -> Bool {
        state.withLock { state in
            queues.contains { queue in
                switch state.lanes[Key(worker: worker, queue: queue)]?.fetch {
                case .moved, .failed: true
                case .inFlight, nil: false
                }
            }
        }
    }

    /// The id a finished fetch moved, if any; the claim that takes it owns it from then on.
    func takeMoved(worker: String, queue: String, max: Int) -> [String] {
        guard max > 0 else { return [] }
        return state.withLock { state in
            let key = Key(worker: worker, queue: queue)
            guard case .moved(let id) = state.lanes[key]?.fetch else { return [] }
            state.lanes[key]?.fetch = nil
            return [id]
        }
    }

    /// The error of a failed fetch, if any, which is then forgotten.
    func takeFailure(worker: String, queues: [String]) -> RedisError? {
        state.withLock { state in
            var failure: RedisError?
            for queue in queues {
                let key = Key(worker: worker, queue: queue)
                if case .failed(let error) = state.lanes[key]?.fetch {
                    state.lanes[key]?.fetch = nil
                    failure = failure ?? error
                }
            }
            return failure
        }
    }

    /// Ends the worker's blocked fetches with `CLIENT UNBLOCK`, sent on `redis`: Redis runs it
    /// in order with every other command, so once a fetch has answered nothing more can land
    /// in its active list. (Closing the connection would not do: Redis may serve a push to a
    /// client whose disconnect it has not read yet.) Repeated, for a fetch whose BLMOVE had
    /// not yet reached Redis when the first UNBLOCK did.
    func interrupt(worker: String, using redis: RedisClient) async throws {
        let wakeup = self.wakeup(worker: worker)
        state.withLock { _ = $0.released.insert(worker) }
        wakeup.fire()
        while true {
            // One entry per fetch still in flight; `nil` where its connection id is not known yet.
            let connections = state.withLock { state -> [(queue: String, id: Int?)] in
                var connections: [(queue: String, id: Int?)] = []
                for (key, lane) in state.lanes where key.worker == worker {
                    if case .inFlight(let connection) = lane.fetch { connections.append((key.queue, connection)) }
                }
                return connections
            }
            if connections.isEmpty { return }
            // Under Redis Cluster, each to the node of the fetch's queue.
            let known = connections.compactMap { c in
                c.id.map { RedisCommand("CLIENT", "UNBLOCK", $0).pinned(toSlotOf: keys.queue(c.queue).queued) }
            }
            if !known.isEmpty {
                _ = try await redis.pipeline(known)
            }
            await wakeup.wait(timeout: .milliseconds(50))
        }
    }

    /// Forgets the worker: closes its connections (call after ``interrupt(worker:using:)``)
    /// and returns the queues it had fetched from, whose active lists may hold ids it moved.
    func forget(worker: String) async -> Set<String> {
        let mine = state.withLock { state -> [Key: Lane] in
            let mine = state.lanes.filter { $0.key.worker == worker }
            for key in mine.keys { state.lanes[key] = nil }
            for key in state.holds.keys where key.worker == worker { state.holds[key] = nil }
            state.wakeups[worker] = nil
            return mine
        }
        for lane in mine.values { await lane.client.close() }
        return Set(mine.keys.map(\.queue))
    }

    func close() async {
        let clients = state.withLock { state -> [RedisClient] in
            defer { state.lanes = [:] }
            return state.lanes.values.map(\.client)
        }
        for client in clients { await client.close() }
    }
}
