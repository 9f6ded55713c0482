import DroverCore
import DroverMaintenance
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs jobs: takes them from its queues (reliable fetch: a taken job sits in the worker's
/// own processing list until reported), runs up to `concurrency` at once, reports each
/// result or failure, and heartbeats so that the reaper recovers its jobs if it dies.
///
/// ```swift
/// var handlers = JobHandlers()
/// handlers.register("greet") { (name: String, _) in "Hello, \(name)!" }
/// let worker = Worker(store: store, handlers: handlers)
/// try await worker.run()   // or add it to a ServiceGroup
/// ```
///
/// On graceful shutdown (SIGTERM/SIGINT in a `ServiceGroup`, or ``shutdown()``) it stops
/// fetching, lets running jobs finish within the grace period, hands back the ones that do
/// not (FAILED → RETRY_QUEUED, not counted against the job), and deregisters.
public final class Worker: Service, Sendable {
    public struct Configuration: Sendable {
        /// Unique per process; appears in Redis keys, logs and job histories.
        public var id: String
        /// Queues to take jobs from, earlier ones first (unless ``weights`` says otherwise).
        public var queues: [String]
        /// Empty: strict order, a queue's jobs wait until every earlier queue is empty. Else
        /// each fetch looks in an order drawn afresh, a queue first with a chance in proportion
        /// to its weight (a queue not named here weighs 1), so a busy queue cannot starve
        /// the others: `["critical": 6, "default": 3, "low": 1]`.
        public var weights: [String: Int]
        /// How many jobs run at once.
        public var concurrency: Int
        public var heartbeatInterval: Duration
        /// The run-time limit for jobs that do not set `timeoutMs`.
        public var jobTimeout: Duration
        /// How long running jobs get to finish after shutdown begins.
        public var shutdownGracePeriod: Duration
        /// How long one blocking fetch waits before asking again.
        public var fetchTimeout: Duration
        /// When set, the worker also runs a reaper, promoter and janitor, so a deployment
        /// needs no master. They are safe to run in every process at once.
        public var maintenance: Maintenance.Configuration?
        public var version: String

        public init(
            id: String = Worker.defaultID(), queues: [String] = ["default"], concurrency: Int = 10,
            heartbeatInterval: Duration = .seconds(2), jobTimeout: Duration = .seconds(1800),
            shutdownGracePeriod: Duration = .seconds(25), fetchTimeout: Duration = .seconds(5),
            maintenance: Maintenance.Configuration? = Maintenance.Configuration(), version: String = DroverVersion.current,
            weights: [String: Int] = [:]
        ) {
            self.id = id
            self.queues = queues
            self.weights = weights
            self.concurrency = concurrency
            self.heartbeatInterval = heartbeatInterval
            self.jobTimeout = jobTimeout
            self.shutdownGracePeriod = shutdownGracePeriod
            self.fetchTimeout = fetchTimeout
            self.maintenance = maintenance
            self.version = version
        }

        /// The queues in the order one fetch looks in them.
        public func fetchOrder() -> [String] {
            guard !weights.isEmpty, queues.count > 1 else { return queues }
            var left = queues.map { ($0, max(1, weights[$0] ?? 1)) }
            var order: [String] = []
            while !left.isEmpty {
                var draw = Int.random(in: 0..<left.reduce(0) { $0 + $1.1 })
                let index = left.firstIndex { entry in
                    draw -= entry.1
                    return draw < 0
                }!
                order.append(left.remove(at: index).0)
            }
            return order
        }
    }

    public let store: any JobStore
    public let handlers: JobHandlers
    public let configuration: Configuration
    public let logger: Logger
    let slots: Slots
    let timeouts = JobTimeouts()
    /// Completion reports of jobs that finish together go in one call.
    let completions: CompletionBatcher
    private let startedAt = Int64(Date().timeIntervalSince1970 * 1000)
    let state = Mutex(RunState())
    let drained = Wakeup()

    struct RunState {
        var stopping = false
        /// Past the grace period: unfinished jobs have been handed back.
        var interrupted = false
        var inFlight: [JobID: ClaimedJob] = [:]
        /// The tasks running handlers, to cancel when a cancel request comes.
        var handlers: [JobID: Task<Void, Never>] = [:]
        /// Cancel requests for this worker's jobs: one that comes before the handler starts
        /// is honoured when it does, and a handler's failure after one ends the job CANCELLED.
        var cancelRequested: Set<JobID> = []
        var staleReports = 0
    }

    public init(
        store: any JobStore, handlers: JobHandlers, configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "drover.worker")
    ) {
        self.store = store
        self.handlers = handlers
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.id)"
        self.logger = logger
        let slots = Slots(capacity: max(1, configuration.concurrency))
        self.slots = slots
        let id = configuration.id
        // A busy worker refills the slots its finished jobs freed in the same round trip as
        // their reports, from the queue first in this fetch's order; the fetch loop claims
        // from the others.
        self.completions = CompletionBatcher { [store, configuration] reports in
            let reserved = slots.reserveFree()
            let queue = configuration.fetchOrder().first ?? "default"
            do {
                let (outcomes, claimed) = try await store.complete(reports, worker: id, thenClaim: reserved, from: queue, start: true)
                slots.give(reserved - claimed.count)
                slots.handOff(claimed)
                return outcomes
            } catch {
                slots.give(reserved)
                if reserved > 0 { slots.noteClaimMayBeLost() }
                throw error
            }
        }
    }

    /// `<host>-<pid>-<4 random hex digits>`.
    public static func defaultID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        let clean = String(
            host.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") })
        return "\(clean.isEmpty ? "host" : clean)-\(getpid())-\(String(UInt16.random(in: 0...UInt16.max), radix: 16))"
    }

    /// Jobs running now.
    public var inFlightCount: Int { state.withLock { $0.inFlight.count } }

    private var inFlightIDs: Set<JobID> { state.withLock { Set($0.inFlight.keys) } }

    /// Reports this worker sent that fencing refused (the job had been reassigned).
    public var staleReports: Int { state.withLock { $0.staleReports } }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    /// Begins a graceful shutdown; ``run()`` returns once it is done.
    public func shutdown() {
        let first = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        logger.info("worker stopping: no new jobs; waiting for running ones", metadata: ["inFlight": "\(inFlightCount)"])
        slots.close()
        // Ends a blocked fetch at once instead of at its timeout.
        let store = self.store
        let id = configuration.id
        Task { try? await store.interruptFetches(worker: id) }
    }

    public func run() async throws {
        guard !configuration.queues.isEmpty else { throw JobError.invalidField("queues", "a worker needs at least one queue") }
        for queue in configuration.queues { try Names.validateQueue(queue) }
        try Names.validateWorkerID(configuration.id)
        guard configuration.concurrency >= 1 else { throw JobError.invalidField("concurrency", "must be at least 1") }

        try await withGracefulShutdownHandler {
            try await runUntilStopped()
        } onGracefulShutdown: {
            self.shutdown()
        }
    }

    private func info() -> WorkerInfo {
        WorkerInfo(
            id: configuration.id, host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), queues: configuration.queues,
            concurrency: configuration.concurrency, inFlight: inFlightCount, startedAt: startedAt, version: configuration.version)
    }

    private func runUntilStopped() async throws {
        let heartbeat = Heartbeat(store: store, interval: configuration.heartbeatInterval, logger: logger) { [self] in info() }
        // Registered before the first fetch, so the reaper knows whose jobs they are.
        try await retrying("register") { try await heartbeat.beat() }
        // Listening for cancel requests before the first fetch, so none for a job about to start is missed.
        _ = try? await store.cancelRequests(worker: configuration.id, timeout: .zero)
        logger.info(
            "worker started",
            metadata: [
                "queues": "\(configuration.queues.joined(separator: ","))", "concurrency": "\(configuration.concurrency)",
                "handlers": "\(handlers.types.joined(separator: ","))",
            ])

        await withTaskGroup(of: Void.self) { duties in
            duties.addTask { await heartbeat.run() }
            duties.addTask { await self.timeouts.run() }
            duties.addTask { await self.listenForCancelRequests() }
            if let settings = configuration.maintenance {
                let maintenance = Maintenance(store: store, configuration: settings, logger: logger)
                duties.addTask { try? await maintenance.run() }
            }
            await fetchAndRun()
            duties.cancelAll()
        }

        _ = try? await retrying("hand back fetched jobs", giveUpWhenInterrupted: false) {
            try await self.store.reconcile(worker: self.configuration.id, queues: self.configuration.queues, holding: self.inFlightIDs)
        }
        try? await retrying("deregister", giveUpWhenInterrupted: false) { try await self.store.deregister(worker: self.configuration.id) }
        logger.info("worker stopped")
    }

    // MARK: Fetching

    /// The run loop starts every job the fetcher or a report claimed; the fetcher claims
    /// into free slots, waiting for jobs when the queues are empty.
    private func fetchAndRun() async {
        await withDiscardingTaskGroup { jobs in
            jobs.addTask { await self.fetch() }
            while true {
                let claimed = await slots.waitForHandedOff()
                if claimed.isEmpty { break }  // stopping
                track(claimed)
                for job in claimed { jobs.addTask { await self.execute(job) } }
            }
            // Claimed just before the stop: they are RUNNING under this worker, so they run in
            // the grace period like the others.
            let late = slots.takeHandedOff()
            track(late)
            for job in late { jobs.addTask { await self.execute(job) } }
            await drainOrInterrupt()
            // Past the grace period, handlers still running are cancelled; the group waits
            // for them to return (a handler that ignores cancellation delays the exit).
            if state.withLock({ $0.interrupted }) { jobs.cancelAll() }
        }
    }

    private func fetch() async {
        var failures = 0
        while !isStopping {
            await slots.waitForFree()
            if slots.takeClaimMayBeLost() { await reconcileLostClaims() }
            let reserved = slots.reserveFree()
            if reserved == 0 { continue }
            do {
                let claimed = try await store.waitAndClaim(
                    queues: configuration.fetchOrder(), worker: configuration.id, max: reserved, start: true,
                    timeout: configuration.fetchTimeout)
                slots.give(reserved - claimed.count)
                if failures > 0 { logger.info("fetching again") }
                failures = 0
                slots.handOff(claimed)
            } catch {
                slots.give(reserved)
                if isStopping { break }
                if failures == 0 { logger.warning("fetch failed; retrying", metadata: ["error": "\(error)"]) }
                failures += 1
                await pauseAfterFailure(failures)
                await reconcileLostClaims()
            }
        }
    }

    /// The wait before trying Redis or the master again after `failures` failures in a row:
    /// doubling from 100 ms to 2 s, so an outage is neither hammered nor waited out too long.
    func pauseAfterFailure(_ failures: Int) async {
        try? await Task.sleep(for: .milliseconds(min(2000, 50 << min(failures, 6))))
    }

    private func track(_ claimed: [ClaimedJob]) {
        guard !claimed.isEmpty else { return }
        state.withLock { state in
            for job in claimed { state.inFlight[job.id] = job }
        }
    }

    /// A claim whose reply was lost left jobs under our name that we never started: hands
    /// them back before fetching again.
    private func reconcileLostClaims() async {
        do {
            let report = try await store.reconcile(worker: configuration.id, queues: configuration.queues, holding: inFlightIDs)
            if !report.handedBack.isEmpty || !report.requeued.isEmpty {
                logger.warning(
                    "handed back jobs this worker had lost track of",
                    metadata: ["handedBack": "\(report.handedBack.count)", "requeued": "\(report.requeued.count)"])
            }
        } catch {
            // Still unreachable. Tried again before the next fetch: a claim whose reply was
            // lost leaves jobs RUNNING under this worker, and while it heartbeats no reaper
            // would ever hand them back.
            slots.noteClaimMayBeLost()
        }
    }

    /// Waits for running jobs up to the grace period, then hands back those still running.
    private func drainOrInterrupt() async {
        let deadline = ContinuousClock.now + configuration.shutdownGracePeriod
        while inFlightCount > 0 {
            let left = deadline - .now
            if left <= .zero { break }
            await drained.wait(timeout: left)
        }
        let unfinished = state.withLock { state -> [ClaimedJob] in
            guard !state.inFlight.isEmpty else { return [] }
            state.interrupted = true
            return Array(state.inFlight.values)
        }
        guard !unfinished.isEmpty else { return }
        logger.warning("grace period over: handing back unfinished jobs", metadata: ["count": "\(unfinished.count)"])
        let reports = unfinished.map {
            FailureReport(job: $0, error: "interrupted: worker \(configuration.id) shut down before the job finished", kind: .interrupted)
        }
        _ = try? await retrying("hand back unfinished jobs", giveUpWhenInterrupted: false, attempts: 20) {
            try await self.store.fail(reports, worker: self.configuration.id)
        }
    }

    /// Retries `body` with capped backoff until it succeeds; gives up once the worker has
    /// handed back its jobs (then the reaper owns them) or after `attempts`.
    func retrying<T: Sendable>(
        _ what: String, logger: Logger? = nil, giveUpWhenInterrupted: Bool = true, attempts: Int = .max,
        _ body: @Sendable () async throws -> T
    ) async throws -> T {
        var delay = Duration.milliseconds(50)
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await body()
            } catch {
                let interrupted = state.withLock { $0.interrupted }
                if attempt >= attempts || (giveUpWhenInterrupted && interrupted) || Task.isCancelled { throw error }
                if attempt == 1 { (logger ?? self.logger).warning("\(what) failed; retrying", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }
}
