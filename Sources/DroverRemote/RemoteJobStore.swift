import DroverAPI
import DroverCore
import DroverTLS
import Foundation
import Synchronization

/// A ``JobStore`` that goes through a master instead of to Redis: for workers and clients
/// that can reach only a master. Every operation is one call on the master's REST or TCP
/// front door; fencing, retries and the reaper work exactly as for direct workers, because
/// the master applies the same scripts.
///
/// Maintenance (reaping, promoting, trimming) is the master's job and is not offered here.
public final class RemoteJobStore: JobStore {
    public let transport: any MasterTransport
    /// How long an ordinary call may take.
    public let callTimeout: Duration
    private let claims = Mutex<[String: Task<[ClaimedJob], any Error>]>([:])

    public init(transport: any MasterTransport, callTimeout: Duration = .seconds(30)) {
        self.transport = transport
        self.callTimeout = callTimeout
    }

    /// A store for the master at `url` (`http(s)://host:port` or `tcp(s)://host:port`),
    /// presenting `token` if the master requires one; `tls` is for the `s` schemes (see
    /// ``MasterURL/transport(token:tls:)``).
    public convenience init(masterURL: String, token: String? = nil, tls: TLSFiles? = nil) throws {
        self.init(transport: try MasterURL(masterURL).transport(token: token, tls: tls))
    }

    public func close() async {
        await transport.close()
    }

    private func call(_ request: APIRequest, timeout: Duration? = nil) async throws -> APIResult {
        let answer: Result<String, RemoteError>
        do {
            answer = .success(try await transport.call(request, timeout: timeout ?? callTimeout))
        } catch {
            answer = .failure(error)
        }
        switch answer {
        case .success(let json): return try APIResult(request.operation, json: json)
        // The store's own error, as a local store would have thrown it.
        case .failure(.api(let error)) where error.jobError != nil: throw error.jobError!
        case .failure(let error): throw error
        }
    }

    private func outcomes(_ result: APIResult, for operation: APIOperation) throws -> [ReportOutcome] {
        guard case .outcomes(let outcomes) = result else { throw unexpected(result, for: operation) }
        return outcomes
    }

    /// The master answered with a result of another kind than the operation has.
    private func unexpected(_ result: APIResult, for operation: APIOperation) -> RemoteError {
        .badResponse("\(operation.rawValue) answered \(String(describing: result).prefix(200))")
    }

    // MARK: Submitting and reading

    public func submit(_ requests: [JobRequest]) async throws -> [SubmittedJob] {
        // Checked here too, so bad input fails before it travels.
        for request in requests { try request.validate(limits: SubmitLimits(maxPayloadBytes: .max)) }
        let result = try await call(.submitBatch(requests))
        guard case .submitted(let submitted) = result else { throw unexpected(result, for: .submitBatch) }
        return submitted
    }

    public func job(_ id: JobID, queue: String?) async throws -> Job? {
        try await getJob(id, queue: queue, wait: nil)
    }

    private func getJob(_ id: JobID, queue: String?, wait: Duration?) async throws -> Job? {
        do {
            let result = try await call(.job(id, queue: queue, wait: wait), timeout: (wait ?? .zero) + callTimeout)
            guard case .job(let job) = result else { throw unexpected(result, for: .get) }
            return job
        } catch JobError.notFound {
            return nil
        }
    }

    public func waitUntilFinished(_ id: JobID, queue: String?, timeout: Duration) async throws -> Job? {
        // The master caps one wait; ask again until our own deadline.
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - .now
            let job = try await getJob(id, queue: queue, wait: max(.zero, min(left, .seconds(30))))
            guard let job, !job.state.isTerminal, deadline - .now > .zero else { return job }
        }
    }

    public func queues() async throws -> [String] {
        try await queueCounts().map(\.queue)
    }

    public func queueCounts() async throws -> [QueueCounts] {
        let result = try await call(.queues)
        guard case .queues(let counts) = result else { throw unexpected(result, for: .queues) }
        return counts
    }

    public func statistics() async throws -> [String: [String: Int]] {
        throw RemoteError.unsupported("statistics are read from the master's /metrics")
    }

    public func jobs(queue: String, state: JobState, after cursor: JobCursor?, limit: Int) async throws -> JobPage {
        let result = try await call(.jobs(queue: queue, state: state, after: cursor, limit: limit))
        guard case .jobPage(let page) = result else { throw unexpected(result, for: .jobs) }
        return page
    }

    public func throughput(since: Int64?) async throws -> [QueueThroughput] {
        let result = try await call(.throughput(since: since))
        guard case .throughput(let queues) = result else { throw unexpected(result, for: .throughput) }
        return queues
    }

    public func sampleThroughput() async throws {
        throw RemoteError.unsupported("the master samples throughput")
    }

    public func setDefaults(_ defaults: QueueDefaults, queue: String) async throws {
        throw RemoteError.unsupported("queue defaults are set with a direct connection to Redis")
    }

    public func pause(queue: String) async throws {
        _ = try await call(.pauseQueue(queue))
    }

    public func resume(queue: String) async throws {
        _ = try await call(.resumeQueue(queue))
    }

    public func setLimits(_ limits: QueueLimits, queue: String) async throws {
        _ = try await call(.setQueueLimits(queue, limits))
    }

    // MARK: Schedules

    public func putSchedule(_ schedule: Schedule) async throws -> (schedule: Schedule, created: Bool) {
        // Checked here too, so bad input fails before it travels.
        _ = try schedule.validated(limits: SubmitLimits(maxPayloadBytes: .max))
        let result = try await call(.putSchedule(schedule))
        guard case .schedule(let stored, let created) = result else { throw unexpected(result, for: .putSchedule) }
        return (stored, created)
    }

    public func schedules() async throws -> [Schedule] {
        let result = try await call(.schedules)
        guard case .schedules(let schedules) = result else { throw unexpected(result, for: .schedules) }
        return schedules
    }

    public func removeSchedule(named name: String) async throws {
        _ = try await call(.removeSchedule(name))
    }

    public func setSchedulePaused(_ paused: Bool, named name: String) async throws -> Schedule {
        let result = try await call(paused ? .pauseSchedule(name) : .resumeSchedule(name))
        guard case .schedule(let schedule, _) = result else { throw unexpected(result, for: paused ? .pauseSchedule : .resumeSchedule) }
        return schedule
    }

    public func fireDueSchedules() async throws -> ScheduleReport {
        throw RemoteError.unsupported("schedules are fired by the master's promoter")
    }

    // MARK: Workflows

    public func submitWorkflow(_ request: WorkflowRequest) async throws -> SubmittedWorkflow {
        let result = try await call(.submitWorkflow(request))
        guard case .workflowSubmitted(let submitted) = result else { throw unexpected(result, for: .submitWorkflow) }
        return submitted
    }

    public func workflow(_ id: JobID, queue: String?) async throws -> WorkflowStatus? {
        do {
            let result = try await call(.workflow(id, queue: queue))
            guard case .workflow(let status) = result else { throw unexpected(result, for: .workflow) }
            return status
        } catch let error as JobError where error == .unknownWorkflow(id) {
            return nil
        }
    }

    public func cancelWorkflow(_ id: JobID, queue: String?) async throws -> WorkflowCancelOutcome {
        let result = try await call(.cancelWorkflow(id, queue: queue))
        guard case .workflowCancelled(_, let outcome) = result else { throw unexpected(result, for: .cancelWorkflow) }
        return outcome
    }

    public func createBatch(_ request: BatchRequest) async throws -> SubmittedWorkflow {
        let result = try await call(.createBatch(request))
        guard case .workflowSubmitted(let submitted) = result else { throw unexpected(result, for: .createBatch) }
        return submitted
    }

    public func addToBatch(_ id: JobID, queue: String?, jobs: [JobRequest], close: Bool) async throws -> BatchAddition {
        let result = try await call(.addToBatch(id, queue: queue, jobs: jobs, close: close))
        guard case .batchAdded(_, let addition) = result else { throw unexpected(result, for: .addToBatch) }
        return addition
    }

    // MARK: Dead letters

    public func retryDeadLetter(_ id: JobID, queue: String?) async throws {
        _ = try await call(.retryDeadLetter(id, queue: queue))
    }

    public func cancel(_ id: JobID, queue: String?) async throws -> CancelOutcome {
        let result = try await call(.cancel(id, queue: queue))
        guard case .cancel(_, let outcome) = result else { throw unexpected(result, for: .cancel) }
        return outcome
    }

    public func purgeDeadLetters(queue: String) async throws -> Int {
        let result = try await call(.purgeDeadLetters(queue: queue))
        guard case .purged(let count) = result else { throw unexpected(result, for: .purgeDeadLetters) }
        return count
    }

    // MARK: Workers

    public func claim(queues: [String], worker: String, max: Int, start: Bool) async throws -> [ClaimedJob] {
        try await waitAndClaim(queues: queues, worker: worker, max: max, start: start, timeout: .zero)
    }

    public func waitAndClaim(queues: [String], worker: String, max: Int, start: Bool, timeout: Duration) async throws -> [ClaimedJob] {
        // Kept as a task of its own so interruptFetches can cancel the long poll.
        let task = Task { () throws -> [ClaimedJob] in
            let result = try await self.call(
                .claim(worker: worker, queues: queues, max: max, start: start, wait: timeout), timeout: timeout + self.callTimeout)
            guard case .claimed(let jobs) = result else { throw self.unexpected(result, for: .claim) }
            return jobs
        }
        claims.withLock { $0[worker] = task }
        defer { claims.withLock { _ = $0.removeValue(forKey: worker) } }
        return try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }

    public func interruptFetches(worker: String) async throws {
        claims.withLock { $0[worker] }?.cancel()
    }

    public func reconcile(worker: String, queues: [String], holding: Set<JobID>) async throws -> ReconcileReport {
        let result = try await call(.reconcile(worker: worker, queues: queues, holding: holding))
        guard case .reconciled(let report) = result else { throw unexpected(result, for: .reconcile) }
        return report
    }

    public func start(_ jobs: [JobLease], worker: String) async throws -> [ReportOutcome] {
        try outcomes(try await call(.start(worker: worker, jobs)), for: .start)
    }

    public func complete(_ reports: [CompletionReport], worker: String) async throws -> [ReportOutcome] {
        try outcomes(try await call(.complete(worker: worker, reports)), for: .complete)
    }

    public func fail(_ reports: [FailureReport], worker: String) async throws -> [ReportOutcome] {
        try outcomes(try await call(.fail(worker: worker, reports)), for: .fail)
    }

    public func cancelRequests(worker: String, timeout: Duration) async throws -> [JobID] {
        // A task of its own, so that cancelling the caller (a worker stopping) ends the long poll.
        let task = Task { () throws -> [JobID] in
            let result = try await self.call(.cancelRequests(worker: worker, wait: timeout), timeout: timeout + self.callTimeout)
            guard case .cancelRequests(let ids) = result else { throw self.unexpected(result, for: .cancelRequests) }
            return ids
        }
        return try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }

    public func recordEffect(_ lease: JobLease, step: String, value: String, worker: String) async throws -> EffectRecord {
        // Checked here too: the value travels as raw JSON, and text that is not would spoil the request.
        try Names.validateEffectStep(step)
        try JSONText.validate(value, field: "effect value")
        let result = try await call(.recordEffect(worker: worker, lease, step: step, value: value))
        guard case .effect(let record) = result else { throw unexpected(result, for: .recordEffect) }
        return record
    }

    public func heartbeat(_ info: WorkerInfo) async throws {
        _ = try await call(.heartbeat(info))
    }

    public func deregister(worker: String) async throws {
        _ = try await call(.deregister(worker: worker))
    }

    public func workers() async throws -> [WorkerInfo] {
        let result = try await call(.workers)
        guard case .workers(let workers) = result else { throw unexpected(result, for: .workers) }
        return workers
    }

    // MARK: Maintenance is the master's: a remote worker runs none.

    public func reapLostWorkers(heartbeatTimeout: Duration) async throws -> ReapReport {
        throw RemoteError.unsupported("the reaper runs in the master")
    }

    public func promoteDueJobs() async throws -> PromotionReport {
        throw RemoteError.unsupported("the promoter runs in the master")
    }

    public func trim() async throws -> TrimReport {
        throw RemoteError.unsupported("the janitor runs in the master")
    }
}
