import DroverAPI
import DroverCore
import DroverRedis
import Foundation
import Logging

/// Carries out API requests against the store. Stateless: any number of masters may serve
/// one Redis.
public struct MasterAPI: Sendable {
    public let store: any JobStore
    /// The longest a `wait` or a worker's claim may hold a request open.
    public let maxWait: Duration

    let metrics: MetricsExporter?
    let logger: Logger

    public init(store: any JobStore, maxWait: Duration = .seconds(60), logger: Logger = Logger(label: "drover.master")) {
        self.init(store: store, maxWait: maxWait, metrics: nil, logger: logger)
    }

    init(store: any JobStore, maxWait: Duration, metrics: MetricsExporter?, logger: Logger) {
        self.store = store
        self.maxWait = maxWait
        self.metrics = metrics
        self.logger = logger
    }

    public func perform(_ request: APIRequest) async throws(APIError) -> APIResult {
        let started = ContinuousClock.now
        do {
            let response = try await run(request)
            metrics?.recordRequest(op: request.operation.rawValue, status: response.status, duration: .now - started)
            return response
        } catch {
            let apiError = APIError(inMaster: error)
            metrics?.recordRequest(op: request.operation.rawValue, status: apiError.status, duration: .now - started)
            throw apiError
        }
    }

    private func run(_ request: APIRequest) async throws -> APIResult {
        switch request {
        case .submit(let job):
            let submitted = try await store.submit([job])[0]
            logger.debug(
                "job SUBMITTED → \(submitted.state.rawValue)",
                metadata: ["job": "\(submitted.id)", "queue": "\(job.queue)", "type": "\(job.type)", "created": "\(submitted.created)"])
            if !submitted.created, !submitted.duplicate, let existing = try await store.job(submitted.id, queue: submitted.queue) {
                // An idempotent repeat: the job that the key already names.
                return .job(existing)
            }
            return .created(submitted)

        case .submitBatch(let jobs):
            guard !jobs.isEmpty else { throw APIError.invalid("'jobs' must not be empty") }
            let submitted = try await store.submit(jobs)
            logger.debug("jobs SUBMITTED", metadata: ["count": "\(submitted.count)"])
            return .submitted(submitted)

        case .job(let id, let queue, let wait):
            let job: Job?
            if let wait {
                job = try await store.waitUntilFinished(id, queue: queue, timeout: min(wait, maxWait))
            } else {
                job = try await store.job(id, queue: queue)
            }
            guard let job else { throw JobError.notFound(id) }
            return .job(job)

        case .queues:
            return .queues(try await store.queueCounts())

        case .jobs(let queue, let state, let cursor, let limit):
            return .jobPage(try await store.jobs(queue: queue, state: state, after: cursor, limit: limit))

        case .workers:
            return .workers(try await store.workers())

        case .throughput(let since):
            return .throughput(try await store.throughput(since: since))

        case .deadLetters(let queue, let offset, let limit):
            let queues: [String]
            if let queue { queues = [queue] } else { queues = try await store.queues() }
            var jobs: [Job] = []
            for queue in queues {
                jobs += try await store.jobs(queue: queue, state: .deadLetter, limit: offset + limit)
            }
            // Newest first across queues.
            let page = jobs.sorted {
                ($0.timestamps[JobState.deadLetter.timestampField] ?? 0) > ($1.timestamps[JobState.deadLetter.timestampField] ?? 0)
            }
            .dropFirst(offset).prefix(limit)
            return .jobs(Array(page), offset: offset, limit: limit)

        case .retryDeadLetter(let id, let queue):
            try await store.retryDeadLetter(id, queue: queue)
            logger.info("job DEAD_LETTER → QUEUED by an operator", metadata: ["job": "\(id)"])
            guard let job = try await store.job(id, queue: queue) else { throw JobError.notFound(id) }
            return .job(job)

        case .cancel(let id, let queue):
            let outcome = try await store.cancel(id, queue: queue)
            switch outcome {
            case .cancelled: logger.info("job → CANCELLED", metadata: ["job": "\(id)"])
            case .stopping(let worker):
                logger.info("job RUNNING: its worker is told to stop it", metadata: ["job": "\(id)", "worker": "\(worker ?? "?")"])
            }
            return .cancel(id, outcome)

        case .submitWorkflow(let request):
            let submitted = try await store.submitWorkflow(request)
            logger.info(
                "workflow submitted",
                metadata: ["workflow": "\(submitted.id)", "queue": "\(submitted.queue)", "jobs": "\(submitted.jobs.count)"])
            return .workflowSubmitted(submitted)

        case .workflow(let id, let queue):
            guard let status = try await store.workflow(id, queue: queue) else { throw JobError.unknownWorkflow(id) }
            return .workflow(status)

        case .cancelWorkflow(let id, let queue):
            let outcome = try await store.cancelWorkflow(id, queue: queue)
            logger.info(
                "workflow cancelled",
                metadata: ["workflow": "\(id)", "cancelled": "\(outcome.cancelled)", "stopping": "\(outcome.stopping)"])
            return .workflowCancelled(id, outcome)

        case .createBatch(let request):
            let submitted = try await store.createBatch(request)
            logger.info(
                "batch created",
                metadata: [
                    "workflow": "\(submitted.id)", "queue": "\(submitted.queue)", "jobs": "\(request.jobs.count)",
                    "open": "\(request.open)",
                ])
            return .workflowSubmitted(submitted)

        case .addToBatch(let id, let queue, let jobs, let close):
            let addition = try await store.addToBatch(id, queue: queue, jobs: jobs, close: close)
            logger.info(
                "batch added to", metadata: ["workflow": "\(id)", "jobs": "\(addition.jobs.count)", "batch": "\(addition.batch.rawValue)"])
            return .batchAdded(id, addition)

        case .pauseQueue(let queue):
            try await store.pause(queue: queue)
            logger.info("queue paused: no job of it starts until it is resumed", metadata: ["queue": "\(queue)"])
            return .queuePaused(queue, true)

        case .resumeQueue(let queue):
            try await store.resume(queue: queue)
            logger.info("queue resumed", metadata: ["queue": "\(queue)"])
            return .queuePaused(queue, false)

        case .schedules:
            return .schedules(try await store.schedules())

        case .putSchedule(let schedule):
            let (stored, created) = try await store.putSchedule(schedule)
            logger.info(
                created ? "schedule added" : "schedule replaced",
                metadata: ["schedule": "\(stored.name)", "cron": "\(stored.cron)", "queue": "\(stored.job.queue)"])
            return .schedule(stored, created: created)

        case .removeSchedule(let name):
            try await store.removeSchedule(named: name)
            logger.info("schedule removed", metadata: ["schedule": "\(name)"])
            return .scheduleRemoved(name)

        case .pauseSchedule(let name), .resumeSchedule(let name):
            let paused = request.operation == .pauseSchedule
            let schedule = try await store.setSchedulePaused(paused, named: name)
            logger.info(paused ? "schedule paused" : "schedule resumed", metadata: ["schedule": "\(name)"])
            return .schedule(schedule, created: false)

        case .setQueueLimits(let queue, let limits):
            try await store.setLimits(limits, queue: queue)
            logger.info("queue limits set", metadata: ["queue": "\(queue)", "limits": "\(WireFormat.encode(limits))"])
            return .queueLimits(queue, limits)

        case .purgeDeadLetters(let queue):
            var purged = 0
            let queues: [String]
            if let queue { queues = [queue] } else { queues = try await store.queues() }
            for queue in queues {
                purged += try await store.purgeDeadLetters(queue: queue)
            }
            logger.info("dead letters purged", metadata: ["queue": "\(queue ?? "*")", "count": "\(purged)"])
            return .purged(purged)

        case .health:
            _ = try await store.queues()
            return .healthy

        case .heartbeat(let info):
            try await store.heartbeat(info)
            return .done

        case .claim(let worker, let queues, let max, let start, let wait):
            try validate(worker: worker, queues: queues)
            guard (1...1000).contains(max) else { throw APIError.invalid("'max' must be between 1 and 1000") }
            let claimed = try await store.waitAndClaim(queues: queues, worker: worker, max: max, start: start, timeout: min(wait, maxWait))
            return .claimed(claimed)

        case .start(let worker, let leases):
            try Names.validateWorkerID(worker)
            return .outcomes(try await store.start(leases, worker: worker))

        case .complete(let worker, let reports):
            try Names.validateWorkerID(worker)
            return .outcomes(try await store.complete(reports, worker: worker))

        case .fail(let worker, let reports):
            try Names.validateWorkerID(worker)
            return .outcomes(try await store.fail(reports, worker: worker))

        case .reconcile(let worker, let queues, let holding):
            try validate(worker: worker, queues: queues)
            let report = try await store.reconcile(worker: worker, queues: queues, holding: holding)
            if !report.handedBack.isEmpty || !report.requeued.isEmpty {
                logger.warning(
                    "handed back jobs a remote worker had lost track of",
                    metadata: ["worker": "\(worker)", "handedBack": "\(report.handedBack.count)", "requeued": "\(report.requeued.count)"])
            }
            return .reconciled(report)

        case .recordEffect(let worker, let lease, let step, let value):
            return .effect(try await store.recordEffect(lease, step: step, value: value, worker: worker))

        case .cancelRequests(let worker, let wait):
            try Names.validateWorkerID(worker)
            return .cancelRequests(try await store.cancelRequests(worker: worker, timeout: min(wait, maxWait)))

        case .deregister(let worker):
            try Names.validateWorkerID(worker)
            try await store.deregister(worker: worker)
            logger.info("remote worker deregistered", metadata: ["worker": "\(worker)"])
            return .done
        }
    }

    private func validate(worker: String, queues: [String]) throws {
        try Names.validateWorkerID(worker)
        guard !queues.isEmpty else { throw APIError.invalid("'queues' must name at least one queue") }
        for queue in queues { try Names.validateQueue(queue) }
    }
}
