import DroverCore
import DroverRedis
import Foundation
import Logging
import Synchronization

/// The production ``JobStore``: every job, queue, retry, dead letter and heartbeat in Redis.
///
/// Connections are few and fixed, whatever the concurrency: one for commands (shared by
/// every task and pipelined), one per queue for blocking fetches (`BLMOVE` holds its
/// connection), and one pub/sub connection opened by the first ``waitUntilFinished(_:queue:timeout:)``.
public final class RedisJobStore: JobStore {
    public struct Configuration: Sendable {
        public var redis: RedisConfiguration
        public var keys: KeySchema
        public var retention: RetentionPolicy
        /// Retry settings for jobs that bring none and whose queue has none set.
        public var defaults: QueueDefaults
        public var limits: SubmitLimits

        public init(
            redis: RedisConfiguration, keys: KeySchema = KeySchema(), retention: RetentionPolicy = RetentionPolicy(),
            defaults: QueueDefaults = .standard, limits: SubmitLimits = SubmitLimits()
        ) {
            self.redis = redis
            self.keys = keys
            self.retention = retention
            self.defaults = defaults
            self.limits = limits
        }
    }

    public let configuration: Configuration
    /// The connection for everything but blocking fetches and pub/sub.
    public let redis: RedisClient
    private let logger: Logger
    private let waiters = FinishedJobWaiters()
    private let subscriber: RedisClient
    private let blockingClients = Mutex<[FetchKey: RedisClient]>([:])
    private let fetches = Mutex<[FetchKey: FetchState]>([:])
    private let fetchFinished = Mutex<[String: Wakeup]>([:])
    /// Workers whose fetches were interrupted: their waitAndClaim in progress returns at once.
    private let released = Mutex<Set<String>>([])
    private let registeredQueues = Mutex<Set<String>>([])
    private let encodedDefaultBackoff: String

    private struct FetchKey: Hashable {
        var worker: String
        var queue: String
    }

    private enum FetchState {
        /// Blocked in Redis; `connection` is the `CLIENT ID` to unblock it with, once known.
        case inFlight(connection: Int?)
        case moved(String)
        case failed(RedisError)

        var isInFlight: Bool {
            if case .inFlight = self { return true }
            return false
        }
    }

    public init(configuration: Configuration, logger: Logger = Logger(label: "drover.store")) {
        self.configuration = configuration
        self.logger = logger
        var commandConfiguration = configuration.redis
        commandConfiguration.clientName = commandConfiguration.clientName ?? "drover"
        self.redis = RedisClient(configuration: commandConfiguration, logger: logger)
        let waiters = self.waiters
        var subscriberConfiguration = commandConfiguration
        subscriberConfiguration.clientName = commandConfiguration.clientName.map { $0 + ".events" }
        self.subscriber = RedisClient(
            configuration: subscriberConfiguration, logger: logger, subscriptions: [configuration.keys.finishedChannel]
        ) { message in
            // ["message", channel, "<id> <state>"]
            guard case .array(let parts) = message, parts.count == 3, let text = parts[2].string,
                let id = text.split(separator: " ").first.flatMap({ JobID(String($0)) })
            else { return }
            waiters.notify(id)
        }
        self.encodedDefaultBackoff = Self.encode(configuration.defaults.backoff)
    }

    /// Convenience: a store for the Redis at `url` with default settings.
    public convenience init(url: String, logger: Logger = Logger(label: "drover.store")) throws {
        self.init(configuration: Configuration(redis: try RedisConfiguration(url)), logger: logger)
    }

    /// Closes every connection.
    public func close() async {
        await redis.close()
        await subscriber.close()
        for client in blockingClients.withLock({ Array($0.values) }) { await client.close() }
    }

    private var keys: KeySchema { configuration.keys }

    // MARK: Script plumbing

    private func call(
        _ function: RedisFunction, queue: String, worker: String? = nil, extraKeys: [String] = [], arguments: [any RedisArgument]
    )
        -> RedisFunction.Call
    {
        let q = keys.queue(queue)
        let queueKeys: [any RedisArgument] = [
            q.queued, q.retry, q.dead, q.completed, q.stats, q.config, q.active(worker: worker ?? "-"), q.holders,
        ]
        let common: [any RedisArgument] = [
            q.jobPrefix, q.idempotencyPrefix, keys.finishedChannel, configuration.retention.historyLimit,
        ]
        return RedisFunction.Call(function, keys: queueKeys + extraKeys, arguments: common + arguments)
    }

    private func run(_ call: RedisFunction.Call) async throws -> RESPValue {
        try await redis.run(call.function, keys: call.keys, arguments: call.arguments)
    }

    // MARK: Submitting and reading

    public func submit(_ requests: [JobRequest]) async throws -> [SubmittedJob] {
        for request in requests { try request.validate(limits: configuration.limits) }
        guard !requests.isEmpty else { return [] }
        // One script call per queue, all in one pipeline.
        var order: [String] = []
        var byQueue: [String: [(index: Int, request: JobRequest, id: JobID)]] = [:]
        for (index, request) in requests.enumerated() {
            if byQueue[request.queue] == nil { order.append(request.queue) }
            byQueue[request.queue, default: []].append((index, request, JobID()))
        }
        let newQueues = registeredQueues.withLock { known in order.filter { !known.contains($0) } }
        var calls: [RedisFunction.Call] = []
        for queue in order {
            let batch = byQueue[queue]!
            var arguments: [any RedisArgument] = [
                queue, batch.count, configuration.defaults.maxAttempts, encodedDefaultBackoff,
                configuration.retention.idempotencyWindow.milliseconds,
            ]
            arguments.reserveCapacity(arguments.count + batch.count * 7)
            for (_, request, id) in batch {
                arguments.append(id.rawValue)
                arguments.append(request.type)
                arguments.append(request.payload)
                arguments.append(request.maxAttempts.map(String.init) ?? "")
                arguments.append(request.backoff.map(Self.encode) ?? "")
                arguments.append(request.timeoutMs.map(String.init) ?? "")
                arguments.append(request.idempotencyKey ?? "")
            }
            calls.append(call(Scripts.submit, queue: queue, arguments: arguments))
        }
        if !newQueues.isEmpty {
            // The queue is registered before its first job lands, so the reaper and promoter,
            // which walk `drover:queues`, never miss a job.
            try await redis.send(RedisCommand("SADD", [keys.queues] + newQueues))
            registeredQueues.withLock { $0.formUnion(newQueues) }
        }
        let replies = try await redis.run(calls)
        var results = [SubmittedJob?](repeating: nil, count: requests.count)
        for (queue, reply) in zip(order, replies) {
            let values = try reply.throwingServerError().array ?? []
            let batch = byQueue[queue]!
            guard values.count == batch.count * 2 else {
                throw RedisError.unexpectedReply("submit returned \(values.count) values for \(batch.count) jobs")
            }
            for (i, entry) in batch.enumerated() {
                guard let id = values[i * 2].string.flatMap(JobID.init) else {
                    throw RedisError.unexpectedReply("submit returned a bad id")
                }
                results[entry.index] = SubmittedJob(id: id, queue: queue, created: values[i * 2 + 1].int == 1)
            }
        }
        return results.map { $0! }
    }

    public func job(_ id: JobID, queue: String?) async throws -> Job? {
        guard let queue = try await resolveQueue(of: id, hint: queue) else { return nil }
        let reply = try await redis.send(RedisCommand("HGETALL", keys.queue(queue).job(id)))
        return try Self.decodeJob(reply)
    }

    /// Finds the queue a job lives in: the hint if the job is there, else every known queue
    /// in one pipeline. Ids do not name their queue, and the cost is paid only on lookups.
    private func resolveQueue(of id: JobID, hint: String?) async throws -> String? {
        if let hint {
            try Names.validateQueue(hint)
            return hint
        }
        let queues = try await self.queues()
        guard !queues.isEmpty else { return nil }
        let replies = try await redis.pipeline(queues.map { RedisCommand("EXISTS", keys.queue($0).job(id)) })
        return zip(queues, replies).first { $0.1.int == 1 }?.0
    }

    public func waitUntilFinished(_ id: JobID, queue: String?, timeout: Duration) async throws -> Job? {
        guard let queue = try await resolveQueue(of: id, hint: queue) else { return nil }
        return try await waiters.wait(for: id, timeout: timeout) {
            // Subscribed before reading, so a job finishing in between is not missed.
            try? await self.subscriber.connect()
            return try await self.job(id, queue: queue)
        }
    }

    public func queues() async throws -> [String] {
        let reply = try await redis.send(RedisCommand("SMEMBERS", keys.queues))
        return (reply.array ?? []).compactMap(\.string).sorted()
    }

    public func queueCounts() async throws -> [QueueCounts] {
        let queues = try await self.queues()
        var commands: [RedisCommand] = []
        for queue in queues {
            let q = keys.queue(queue)
            commands += [
                RedisCommand("LLEN", q.queued), RedisCommand("HMGET", q.stats, "ASSIGNED", "RUNNING", "staleReports"),
                RedisCommand("ZCARD", q.retry), RedisCommand("ZCARD", q.completed), RedisCommand("ZCARD", q.dead),
            ]
        }
        let replies = try await redis.pipeline(commands)
        return queues.enumerated().map { i, queue in
            let r = Array(replies[i * 5..<i * 5 + 5])
            let stats = r[1].array ?? []
            func stat(_ j: Int) -> Int { j < stats.count ? stats[j].int ?? 0 : 0 }
            return QueueCounts(
                queue: queue, queued: r[0].int ?? 0, assigned: stat(0), running: stat(1), retryQueued: r[2].int ?? 0,
                completed: r[3].int ?? 0, deadLetter: r[4].int ?? 0, staleReports: stat(2))
        }
    }

    public func statistics() async throws -> [String: [String: Int]] {
        let queues = try await self.queues()
        let replies = try await redis.pipeline(queues.map { RedisCommand("HGETALL", keys.queue($0).stats) })
        var result: [String: [String: Int]] = [:]
        for (queue, reply) in zip(queues, replies) {
            result[queue] = Self.fields(reply).compactMapValues { Int($0) }
        }
        return result
    }

    public func jobs(queue: String, state: JobState, offset: Int, limit: Int) async throws -> [Job] {
        try Names.validateQueue(queue)
        guard limit > 0 else { return [] }
        let q = keys.queue(queue)
        let last = offset + limit - 1
        let ids: [String]
        switch state {
        case .queued:
            // Workers take from the right, so the next to run is last in the list.
            let reply = try await redis.send(RedisCommand("LRANGE", q.queued, -(last + 1), -(offset + 1)))
            ids = (reply.array ?? []).compactMap(\.string).reversed()
        case .retryQueued:
            ids = try await redis.send(RedisCommand("ZRANGE", q.retry, offset, last)).array?.compactMap(\.string) ?? []
        case .completed:
            ids = try await redis.send(RedisCommand("ZREVRANGE", q.completed, offset, last)).array?.compactMap(\.string) ?? []
        case .deadLetter:
            ids = try await redis.send(RedisCommand("ZREVRANGE", q.dead, offset, last)).array?.compactMap(\.string) ?? []
        case .assigned, .running:
            let workers = try await self.workers().map(\.id)
            let lists = try await redis.pipeline(workers.map { RedisCommand("LRANGE", q.active(worker: $0), 0, -1) })
            ids = lists.flatMap { $0.array?.compactMap(\.string) ?? [] }
        case .submitted, .failed:
            return []
        }
        let replies = try await redis.pipeline(ids.map { RedisCommand("HGETALL", q.jobPrefix + $0) })
        let found = try replies.compactMap(Self.decodeJob).filter { $0.state == state }
        if state == .assigned || state == .running {
            return Array(found.sorted { $0.id > $1.id }.dropFirst(offset).prefix(limit))
        }
        return found
    }

    public func setDefaults(_ defaults: QueueDefaults, queue: String) async throws {
        try Names.validateQueue(queue)
        guard defaults.maxAttempts >= 1 else { throw JobError.invalidField("maxAttempts", "must be at least 1") }
        try defaults.backoff.validate()
        try await redis.send(
            RedisCommand("HSET", keys.queue(queue).config, "maxAttempts", defaults.maxAttempts, "backoff", Self.encode(defaults.backoff)))
    }

    // MARK: Dead letters

    public func retryDeadLetter(_ id: JobID, queue: String?) async throws {
        guard let queue = try await resolveQueue(of: id, hint: queue) else { throw JobError.notFound(id) }
        let reply = try await run(call(Scripts.retryDead, queue: queue, arguments: [id.rawValue]))
        let parts = (reply.array ?? []).compactMap(\.string)
        switch parts.first {
        case "QUEUED": return
        case "ILLEGAL":
            let from = parts.count > 1 ? JobState(rawValue: parts[1]) ?? .queued : .queued
            throw JobError.illegalTransition(id: id, from: from, to: .queued)
        default: throw JobError.notFound(id)
        }
    }

    public func purgeDeadLetters(queue: String) async throws -> Int {
        try Names.validateQueue(queue)
        var removed = 0
        while true {
            // Age limit 0 ms: every dead letter is past it. Completed jobs are left alone.
            let reply = try await run(
                call(Scripts.trim, queue: queue, arguments: [Int64.max / 2, 0, configuration.retention.deadLetterMaxCount, 1000]))
            let n = reply.array?[1].int ?? 0
            removed += n
            if n < 1000 { return removed }
        }
    }

    // MARK: Workers

    public func claim(queues: [String], worker: String, max: Int, start: Bool) async throws -> [ClaimedJob] {
        var claimed: [ClaimedJob] = []
        for queue in queues where claimed.count < max {
            let reply = try await run(claimCall(queue: queue, worker: worker, max: max - claimed.count, start: start))
            claimed += try Self.decodeClaimedJobs(reply, queue: queue)
        }
        return claimed
    }

    private func claimCall(queue: String, worker: String, max: Int, start: Bool) -> RedisFunction.Call {
        // Ids already moved by a finished blocking fetch come first.
        let moved = takeMovedIDs(worker: worker, queue: queue, max: max)
        let arguments: [any RedisArgument] = [worker, max - moved.count, start ? "1" : "0"] + moved
        return call(Scripts.claim, queue: queue, worker: worker, arguments: arguments)
    }

    private static func decodeClaimedJobs(_ reply: RESPValue, queue: String) throws -> [ClaimedJob] {
        try (reply.throwingServerError().array ?? []).map { try decodeClaimed($0, queue: queue) }
    }

    public func waitAndClaim(queues: [String], worker: String, max: Int, start: Bool, timeout: Duration) async throws -> [ClaimedJob] {
        let deadline = ContinuousClock.now + timeout
        let wakeup = fetchWakeup(worker: worker)
        released.withLock { _ = $0.remove(worker) }
        while true {
            let claimed = try await claim(queues: queues, worker: worker, max: max, start: start)
            let left = deadline - .now
            guard claimed.isEmpty, left > .zero else { return claimed }
            // A fetch left over from an earlier call may end (empty) before ours would have:
            // that wakes us early, and we go round again until our own deadline.
            for queue in queues { startFetchIfIdle(worker: worker, queue: queue, timeout: left) }
            if !hasFinishedFetch(worker: worker, queues: queues) {
                await wakeup.wait(timeout: left)
            }
            if let error = takeFetchFailure(worker: worker, queues: queues) {
                // The reply of a BLMOVE that Redis may have run was lost: whatever it moved sits
                // in our active list still QUEUED. The worker's reconcile puts it back.
                throw error
            }
            if released.withLock({ $0.contains(worker) }) { return [] }
        }
    }

    private func blockingClient(for key: FetchKey) -> RedisClient {
        blockingClients.withLock { clients in
            if let client = clients[key] { return client }
            var configuration = self.redis.configuration
            configuration.clientName = configuration.clientName.map { "\($0).fetch.\(key.queue)" }
            let client = RedisClient(configuration: configuration, logger: logger)
            clients[key] = client
            return client
        }
    }

    /// One `BLMOVE` per queue and worker at most, left running across calls: its result is
    /// kept until a later claim picks it up, so nothing it moves is dropped.
    private func startFetchIfIdle(worker: String, queue: String, timeout: Duration) {
        let key = FetchKey(worker: worker, queue: queue)
        let idle = fetches.withLock { fetches -> Bool in
            guard fetches[key] == nil else { return false }
            fetches[key] = .inFlight(connection: nil)
            return true
        }
        guard idle else { return }
        let client = blockingClient(for: key)
        let q = keys.queue(queue)
        let seconds = String(format: "%.3f", max(0.01, Double(timeout.milliseconds) / 1000))
        let command = RedisCommand("BLMOVE", q.queued, q.active(worker: worker), "RIGHT", "LEFT", seconds)
        let replyTimeout = timeout + client.configuration.commandTimeout
        Task {
            let state: FetchState?
            do {
                // Known before blocking, so interruptFetches can end the BLMOVE from another
                // connection with CLIENT UNBLOCK, in order with everything else Redis does.
                let connection = try await client.send(RedisCommand("CLIENT", "ID")).int
                self.fetches.withLock { $0[key] = .inFlight(connection: connection) }
                let reply = try await client.send(command, timeout: replyTimeout)
                state = reply.string.map(FetchState.moved)
            } catch {
                state = .failed((error as? RedisError) ?? .connectionClosed)
            }
            let wakeup = self.fetches.withLock { fetches -> Wakeup? in
                fetches[key] = state
                return self.fetchFinished.withLock { $0[worker] }
            }
            wakeup?.fire()
        }
    }

    /// The signal a worker's fetches fire when they finish, created on first use.
    private func fetchWakeup(worker: String) -> Wakeup {
        fetchFinished.withLock { wakeups in
            if let wakeup = wakeups[worker] { return wakeup }
            let wakeup = Wakeup()
            wakeups[worker] = wakeup
            return wakeup
        }
    }

    private func hasFinishedFetch(worker: String, queues: [String]) -> Bool {
        fetches.withLock { fetches in
            queues.contains { queue in
                switch fetches[FetchKey(worker: worker, queue: queue)] {
                case .moved, .failed: return true
                case .inFlight, nil: return false
                }
            }
        }
    }

    private func takeMovedIDs(worker: String, queue: String, max: Int) -> [String] {
        guard max > 0 else { return [] }
        return fetches.withLock { fetches in
            let key = FetchKey(worker: worker, queue: queue)
            if case .moved(let id) = fetches[key] {
                fetches[key] = nil
                return [id]
            }
            return []
        }
    }

    private func takeFetchFailure(worker: String, queues: [String]) -> RedisError? {
        fetches.withLock { fetches in
            var failure: RedisError?
            for queue in queues {
                let key = FetchKey(worker: worker, queue: queue)
                if case .failed(let error) = fetches[key] {
                    fetches[key] = nil
                    failure = failure ?? error
                }
            }
            return failure
        }
    }

    public func interruptFetches(worker: String) async throws {
        // End blocked BLMOVEs with CLIENT UNBLOCK: Redis runs it in order with every other
        // command, so once a fetch has answered nothing more can land in its active list.
        // (Closing the connection would not do: Redis may serve a push to a client whose
        // disconnect it has not read yet.) Repeated, for a fetch whose BLMOVE had not yet
        // reached Redis when the first UNBLOCK did.
        let wakeup = fetchWakeup(worker: worker)
        released.withLock { _ = $0.insert(worker) }
        wakeup.fire()
        while true {
            let connections = fetches.withLock { fetches -> [Int?] in
                fetches.filter { $0.key.worker == worker && $0.value.isInFlight }.map { entry in
                    if case .inFlight(let connection) = entry.value { return connection }
                    return nil
                }
            }
            if connections.isEmpty { return }
            let known = connections.compactMap { $0 }
            if !known.isEmpty {
                _ = try await redis.pipeline(known.map { RedisCommand("CLIENT", "UNBLOCK", $0) })
            }
            await wakeup.wait(timeout: .milliseconds(50))
        }
    }

    public func reconcile(worker: String, queues: [String], holding: Set<JobID>) async throws -> ReconcileReport {
        try await interruptFetches(worker: worker)
        let fetched = fetches.withLock { fetches -> Set<String> in
            let mine = fetches.keys.filter { $0.worker == worker }
            for key in mine { fetches[key] = nil }
            return Set(mine.map(\.queue))
        }
        let clients = blockingClients.withLock { clients in
            let mine = clients.filter { $0.key.worker == worker }
            for key in mine.keys { clients[key] = nil }
            return Array(mine.values)
        }
        for client in clients { await client.close() }
        var report = ReconcileReport()
        let reason = FailureReason.forgotten(by: worker)
        let held: [any RedisArgument] = holding.map(\.rawValue)
        for queue in fetched.union(queues).sorted() {
            let reply = try await run(call(Scripts.reconcile, queue: queue, worker: worker, arguments: [worker, reason] + held))
            let parts = (reply.array ?? []).compactMap(\.string)
            for i in stride(from: 0, to: parts.count - 1, by: 2) {
                guard let id = JobID(parts[i]) else { continue }
                if parts[i + 1] == "REQUEUED" { report.requeued.append(id) } else { report.handedBack.append(id) }
            }
        }
        return report
    }

    public func start(_ jobs: [JobLease], worker: String) async throws -> [ReportOutcome] {
        try await report(jobs, queue: \.queue, worker: worker, script: Scripts.start) { [$0.id.rawValue, $0.attempt] }
    }

    public func complete(_ reports: [CompletionReport], worker: String) async throws -> [ReportOutcome] {
        try await complete(reports, worker: worker, thenClaim: 0, from: "", start: false).outcomes
    }

    public func complete(_ reports: [CompletionReport], worker: String, thenClaim max: Int, from queue: String, start: Bool)
        async throws -> (outcomes: [ReportOutcome], claimed: [ClaimedJob])
    {
        for report in reports { try JSONText.validate(report.result, field: "result") }
        let retention = configuration.retention.completed.milliseconds
        var (calls, decode) = reportCalls(reports, queue: \.lease.queue, worker: worker, script: Scripts.complete, leading: [retention]) {
            [$0.lease.id.rawValue, $0.lease.attempt, $0.result]
        }
        if max > 0 { calls.append(claimCall(queue: queue, worker: worker, max: max, start: start)) }
        guard !calls.isEmpty else { return ([], []) }
        let replies = try await redis.run(calls)
        let claimed = max > 0 ? try Self.decodeClaimedJobs(replies[replies.count - 1], queue: queue) : []
        return (try decode(replies), claimed)
    }

    public func fail(_ reports: [FailureReport], worker: String) async throws -> [ReportOutcome] {
        try await report(reports, queue: \.lease.queue, worker: worker, script: Scripts.fail) {
            [$0.lease.id.rawValue, $0.lease.attempt, $0.error, $0.retryDelayMs, $0.kind.rawValue]
        }
    }

    /// Sends reports grouped by queue, one function call per queue in one pipeline, and maps
    /// the per-job answers back to the order of `items`.
    private func report<Item>(
        _ items: [Item], queue: (Item) -> String, worker: String, script: RedisFunction, leading: [any RedisArgument] = [],
        arguments: (Item) -> [any RedisArgument]
    ) async throws -> [ReportOutcome] {
        let (calls, decode) = reportCalls(items, queue: queue, worker: worker, script: script, leading: leading, arguments: arguments)
        guard !calls.isEmpty else { return [] }
        return try decode(try await redis.run(calls))
    }

    /// The calls of ``report(_:queue:worker:script:leading:arguments:)``, and the decoding of
    /// their replies (the first replies of a pipeline that may carry more calls after them).
    private func reportCalls<Item>(
        _ items: [Item], queue: (Item) -> String, worker: String, script: RedisFunction, leading: [any RedisArgument] = [],
        arguments: (Item) -> [any RedisArgument]
    ) -> ([RedisFunction.Call], @Sendable ([RESPValue]) throws -> [ReportOutcome]) {
        let count = items.count
        var order: [String] = []
        var indices: [String: [Int]] = [:]
        for (i, item) in items.enumerated() {
            let q = queue(item)
            if indices[q] == nil { order.append(q) }
            indices[q, default: []].append(i)
        }
        let calls = order.map { q in
            call(script, queue: q, worker: worker, arguments: [worker] + leading + indices[q]!.flatMap { arguments(items[$0]) })
        }
        let positions = order.map { indices[$0]! }
        return (
            calls,
            { replies in
                var outcomes = [ReportOutcome](repeating: .stale(current: nil), count: count)
                for (positions, reply) in zip(positions, replies) {
                    let answers = try reply.throwingServerError().array ?? []
                    for (i, answer) in zip(positions, answers) {
                        outcomes[i] = Self.decodeOutcome(answer.string ?? "")
                    }
                }
                return outcomes
            }
        )
    }

    public func heartbeat(_ info: WorkerInfo) async throws {
        try Names.validateWorkerID(info.id)
        for queue in info.queues { try Names.validateQueue(queue) }
        let fields: [any RedisArgument] = [
            "id", info.id, "host", info.host, "pid", info.pid, "queues", info.queues.joined(separator: ","),
            "concurrency", info.concurrency, "inFlight", info.inFlight, "startedAt", info.startedAt, "version", info.version,
        ]
        // The hash outlives a missed beat or two but not a dead worker by much.
        let ttl = 3_600_000
        try await redis.run(Scripts.heartbeat, keys: [keys.workers, keys.worker(info.id)], arguments: [info.id, ttl] + fields)
    }

    public func deregister(worker: String) async throws {
        _ = try await redis.pipeline([RedisCommand("ZREM", keys.workers, worker), RedisCommand("DEL", keys.worker(worker))])
    }

    public func workers() async throws -> [WorkerInfo] {
        let reply = try await redis.send(RedisCommand("ZREVRANGE", keys.workers, 0, -1, "WITHSCORES"))
        let flat = reply.array ?? []
        var ids: [(String, Int64)] = []
        for i in stride(from: 0, to: flat.count - 1, by: 2) {
            if let id = flat[i].string, let score = flat[i + 1].string.flatMap(Double.init) { ids.append((id, Int64(score))) }
        }
        let hashes = try await redis.pipeline(ids.map { RedisCommand("HGETALL", keys.worker($0.0)) })
        return zip(ids, hashes).map { entry, hash in
            let f = Self.fields(hash)
            return WorkerInfo(
                id: entry.0, host: f["host"] ?? "", pid: f["pid"].flatMap { Int($0) } ?? 0,
                queues: (f["queues"] ?? "").split(separator: ",").map(String.init),
                concurrency: f["concurrency"].flatMap { Int($0) } ?? 0, inFlight: f["inFlight"].flatMap { Int($0) } ?? 0,
                startedAt: f["startedAt"].flatMap { Int64($0) } ?? 0, version: f["version"] ?? "", lastHeartbeat: entry.1)
        }
    }

    // MARK: Maintenance

    public func reapLostWorkers(heartbeatTimeout: Duration) async throws -> ReapReport {
        let timeoutMs = heartbeatTimeout.milliseconds
        var report = ReapReport()
        // Lost: a heartbeat older than the timeout. Orphaned: a processing list whose worker
        // is not registered at all (it deregistered with jobs left, or its entry was removed).
        let lost = (try await redis.run(Scripts.lostWorkers, keys: [keys.workers], arguments: [timeoutMs]).array ?? []).compactMap(\.string)
        let queues = try await self.queues()
        let holders = try await redis.pipeline(queues.map { RedisCommand("SMEMBERS", keys.queue($0).holders) })
            .map { ($0.array ?? []).compactMap(\.string) }
        let registered = Set((try await redis.send(RedisCommand("ZRANGE", keys.workers, 0, -1)).array ?? []).compactMap(\.string))
        let lostSet = Set(lost)
        var alive: Set<String> = []
        for (queue, workers) in zip(queues, holders) {
            for worker in workers where lostSet.contains(worker) || !registered.contains(worker) {
                if alive.contains(worker) { continue }
                if try await reap(worker: worker, queue: queue, heartbeatTimeout: heartbeatTimeout, into: &report) == false {
                    alive.insert(worker)
                }
            }
        }
        for worker in lost where !alive.contains(worker) {
            let forgotten = try await redis.run(
                Scripts.forgetWorker, keys: [keys.workers, keys.worker(worker)], arguments: [worker, timeoutMs])
            if forgotten.int == 1 {
                report.lostWorkers.append(worker)
                logger.warning("removed lost worker", metadata: ["worker": "\(worker)"])
            }
        }
        return report
    }

    /// Hands back everything in one worker's processing list of one queue. Returns false if
    /// the worker turned out to be alive.
    private func reap(worker: String, queue: String, heartbeatTimeout: Duration, into report: inout ReapReport) async throws -> Bool {
        let q = keys.queue(queue)
        let reason = FailureReason.workerLost(worker, silentFor: heartbeatTimeout)
        while true {
            let ids = (try await redis.send(RedisCommand("LRANGE", q.active(worker: worker), 0, 99)).array ?? []).compactMap(\.string)
            // Each job's retry delay follows its own backoff policy and attempt.
            let jobs = try await redis.pipeline(ids.map { RedisCommand("HMGET", q.jobPrefix + $0, "attempt", "attemptBase", "backoff") })
            var arguments: [any RedisArgument] = [worker, heartbeatTimeout.milliseconds, reason]
            for (id, fields) in zip(ids, jobs) {
                let f = fields.array ?? []
                let attempt = (f.first?.int ?? 0) - (f.count > 1 ? f[1].int ?? 0 : 0)
                let backoff = f.count > 2 ? f[2].string.flatMap(Self.decodeBackoff) ?? .standard : .standard
                arguments += [id, backoff.delayMs(afterAttempt: attempt)]
            }
            // Runs even for an empty list, to drop the worker from the queue's holders.
            let reply = try await run(call(Scripts.reap, queue: queue, worker: worker, extraKeys: [keys.workers], arguments: arguments))
            let answers = (reply.array ?? []).compactMap(\.string)
            if answers == ["ALIVE"] { return false }
            for (id, answer) in zip(ids, answers) {
                guard let jobID = JobID(id) else { continue }
                switch answer {
                case "REQUEUED":
                    report.requeuedJobs.append(jobID)
                case "RETRY_QUEUED", "DEAD_LETTER":
                    report.failedJobs.append(jobID)
                    logger.warning(
                        "reaped job of lost worker",
                        metadata: ["job": "\(id)", "queue": "\(queue)", "worker": "\(worker)", "state": "\(answer)"])
                default:
                    break
                }
            }
            if ids.count < 100 { return true }
        }
    }

    public func promoteDueJobs() async throws -> PromotionReport {
        let queues = try await self.queues()
        let replies = try await redis.run(queues.map { call(Scripts.promote, queue: $0, arguments: [1000]) })
        var promoted = 0
        var nextDue: Int64?
        for reply in replies {
            let parts = try reply.throwingServerError().array ?? []
            promoted += parts.first?.int ?? 0
            if parts.count > 1, let due = parts[1].int, due >= 0 {
                nextDue = min(nextDue ?? Int64(due), Int64(due))
            }
        }
        return PromotionReport(promoted: promoted, nextDueMs: nextDue)
    }

    public func trim() async throws -> TrimReport {
        let r = configuration.retention
        let queues = try await self.queues()
        var total = TrimReport(completedRemoved: 0, deadLettersRemoved: 0)
        for queue in queues {
            while true {
                let reply = try await run(
                    call(
                        Scripts.trim, queue: queue,
                        arguments: [r.completed.milliseconds, r.deadLetterMaxAge.milliseconds, r.deadLetterMaxCount, 1000]))
                let parts = reply.array ?? []
                let completed = parts.first?.int ?? 0
                let dead = parts.count > 1 ? parts[1].int ?? 0 : 0
                total.completedRemoved += completed
                total.deadLettersRemoved += dead
                if completed < 1000 && dead < 1000 { break }
            }
        }
        return total
    }

    // MARK: Decoding

    static func encode(_ backoff: BackoffPolicy) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(backoff)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func decodeBackoff(_ text: String) -> BackoffPolicy? {
        try? JSONDecoder().decode(BackoffPolicy.self, from: Data(text.utf8))
    }

    private static func fields(_ reply: RESPValue) -> [String: String] {
        let flat = reply.array ?? []
        var fields: [String: String] = [:]
        fields.reserveCapacity(flat.count / 2)
        for i in stride(from: 0, to: flat.count - 1, by: 2) {
            if let k = flat[i].string, let v = flat[i + 1].string { fields[k] = v }
        }
        return fields
    }

    static func decodeJob(_ reply: RESPValue) throws -> Job? {
        let f = fields(reply)
        guard !f.isEmpty else { return nil }
        guard let id = f["id"].flatMap(JobID.init), let state = f["state"].flatMap(JobState.init(rawValue:)) else {
            throw RedisError.unexpectedReply("a job hash without a valid id or state")
        }
        var timestamps: [String: Int64] = [:]
        for s in JobState.allCases {
            if let t = f[s.timestampField].flatMap({ Int64($0) }) { timestamps[s.timestampField] = t }
        }
        let history = f["history"].flatMap { try? JSONDecoder().decode([JobTransition].self, from: Data($0.utf8)) } ?? []
        return Job(
            id: id, queue: f["queue"] ?? "", type: f["type"] ?? "", payload: f["payload"] ?? "null", state: state,
            attempt: f["attempt"].flatMap { Int($0) } ?? 0, maxAttempts: f["maxAttempts"].flatMap { Int($0) } ?? 1,
            attemptBase: f["attemptBase"].flatMap { Int($0) } ?? 0,
            backoff: f["backoff"].flatMap(decodeBackoff) ?? .standard, timeoutMs: f["timeoutMs"].flatMap { Int($0) },
            idempotencyKey: f["idempotencyKey"], worker: f["worker"], error: f["error"], result: f["result"],
            runAt: f["runAt"].flatMap { Int64($0) }, timestamps: timestamps, history: history)
    }

    private static func decodeClaimed(_ value: RESPValue, queue: String) throws -> ClaimedJob {
        let f = value.array ?? []
        guard f.count == 9, let id = f[0].string.flatMap(JobID.init), let state = f[1].string.flatMap(JobState.init(rawValue:)) else {
            throw RedisError.unexpectedReply("claim returned \(value)")
        }
        let timeout = f[8].string.flatMap { Int($0) }
        return ClaimedJob(
            id: id, queue: queue, type: f[3].string ?? "", payload: f[4].string ?? "null", state: state, attempt: f[2].int ?? 1,
            maxAttempts: f[5].int ?? 1, attemptBase: f[6].int ?? 0, backoff: f[7].string.flatMap(decodeBackoff) ?? .standard,
            timeoutMs: timeout)
    }

    private static func decodeOutcome(_ answer: String) -> ReportOutcome {
        if answer.hasPrefix("STALE") {
            let state = answer.split(separator: " ").dropFirst().first.flatMap { JobState(rawValue: String($0)) }
            return .stale(current: state)
        }
        return JobState(rawValue: answer).map(ReportOutcome.applied) ?? .stale(current: nil)
    }
}
