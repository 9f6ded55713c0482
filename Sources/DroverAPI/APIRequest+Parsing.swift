import DroverCore

extension APIRequest {
    /// Parses a request of `operation` from its fields: the TCP frame's members, or a REST
    /// request's body with its path and query parameters merged in.
    package init(_ operation: APIOperation, fields f: RequestFields) throws(APIError) {
        switch operation {
        case .metrics:
            throw .malformed("metrics are served as Prometheus text at GET /metrics only")
        case .submit:
            self = .submit(try f.jobRequest())
        case .submitBatch:
            let jobs = try f.objects("jobs")
            guard jobs.count <= 10_000 else { throw .invalid("at most 10000 jobs per batch") }
            var requests: [JobRequest] = []
            for job in jobs { requests.append(try job.jobRequest()) }
            self = .submitBatch(requests)
        case .get:
            let wait: Duration? =
                if let text = try? f.string("wait") { try parseDuration(text) } else { try f.int("wait").map { .seconds($0) } }
            self = .job(try f.jobID("id"), queue: try f.string("queue"), wait: wait)
        case .queues:
            self = .queues
        case .jobs:
            let stateName = try f.required("state", f.string)
            guard let state = JobState(rawValue: stateName.uppercased()) else {
                throw .invalid("'state' must be one of \(JobState.observable.map(\.rawValue).joined(separator: ", "))")
            }
            var cursor: JobCursor?
            if let text = try f.string("cursor") {
                guard let parsed = JobCursor(text) else {
                    throw .invalid("'cursor' must be the 'next' of an earlier page, like r50:\(JobID())")
                }
                cursor = parsed
            }
            self = .jobs(queue: try f.required("queue", f.string), state: state, after: cursor, limit: try Self.limit(f))
        case .workers:
            self = .workers
        case .throughput:
            self = .throughput(since: try f.bounded("since", 0...Int(JobStart.latestRunAtMs)).map(Int64.init))
        case .deadLetters:
            self = .deadLetters(queue: try f.string("queue"), offset: try Self.offset(f), limit: try Self.limit(f))
        case .retryDeadLetter:
            self = .retryDeadLetter(try f.jobID("id"), queue: try f.string("queue"))
        case .cancel:
            self = .cancel(try f.jobID("id"), queue: try f.string("queue"))
        case .purgeDeadLetters:
            self = .purgeDeadLetters(queue: try f.string("queue"))
        case .pauseQueue:
            self = .pauseQueue(try f.required("queue", f.string))
        case .resumeQueue:
            self = .resumeQueue(try f.required("queue", f.string))
        case .setQueueLimits:
            // Ranges are the store's to check (``QueueLimits/validated()``): one message for
            // every door and store.
            let rate = try f.decode("rate", as: QueueLimits.Rate.self, expected: #"an object like {"count":50,"periodMs":1000}"#)
            self = .setQueueLimits(try f.required("queue", f.string), QueueLimits(rate: rate, concurrency: try f.int("concurrency")))
        case .schedules:
            self = .schedules
        case .putSchedule:
            self = .putSchedule(try f.schedule())
        case .removeSchedule:
            self = .removeSchedule(try f.required("name", f.string))
        case .pauseSchedule:
            self = .pauseSchedule(try f.required("name", f.string))
        case .resumeSchedule:
            self = .resumeSchedule(try f.required("name", f.string))
        case .submitWorkflow:
            self = .submitWorkflow(try f.workflowRequest())
        case .workflow:
            self = .workflow(try f.jobID("id"), queue: try f.string("queue"))
        case .cancelWorkflow:
            self = .cancelWorkflow(try f.jobID("id"), queue: try f.string("queue"))
        case .createBatch:
            self = .createBatch(try f.batchRequest())
        case .addToBatch:
            let queue = try f.string("queue")
            self = .addToBatch(
                try f.jobID("id"), queue: queue, jobs: try f.memberRequests(queue: queue), close: try f.bool("close") ?? false)
        case .recordEffect:
            self = .recordEffect(
                worker: try f.required("worker", f.string), try f.lease(), step: try f.required("step", f.string),
                value: try f.required("value") { f.raw[$0] })
        case .health:
            self = .health
        case .heartbeat:
            let range = -RequestFields.maxSafeInteger...RequestFields.maxSafeInteger
            self = .heartbeat(
                WorkerInfo(
                    id: try f.required("worker", f.string), host: try f.string("host") ?? "", pid: try f.bounded("pid", range) ?? 0,
                    queues: try f.strings("queues") ?? [], concurrency: try f.bounded("concurrency", range) ?? 0,
                    inFlight: try f.bounded("inFlight", range) ?? 0, startedAt: Int64(try f.bounded("startedAt", range) ?? 0),
                    version: try f.string("version") ?? ""))
        case .claim:
            self = .claim(
                worker: try f.required("worker", f.string), queues: try f.required("queues", f.strings),
                max: try f.bounded("max", 1...1000) ?? 1, start: try f.decode("start", as: Bool.self, expected: "true or false") ?? true,
                wait: .milliseconds(try f.bounded("waitMs", 0...60_000) ?? 0))
        case .start:
            var leases: [JobLease] = []
            for job in try f.objects("jobs") { leases.append(try job.lease()) }
            self = .start(worker: try f.required("worker", f.string), leases)
        case .complete:
            var reports: [CompletionReport] = []
            for report in try f.objects("reports") {
                reports.append(CompletionReport(lease: try report.lease(), result: report.raw["result"] ?? "null"))
            }
            self = .complete(worker: try f.required("worker", f.string), reports)
        case .fail:
            var reports: [FailureReport] = []
            for report in try f.objects("reports") {
                let kindName = try report.string("kind") ?? "error"
                guard let kind = FailureReport.Kind(rawValue: kindName) else { throw .invalid("'kind' must be error or interrupted") }
                reports.append(
                    FailureReport(
                        lease: try report.lease(), error: try report.required("error", report.string), kind: kind,
                        retryDelayMs: try report.bounded("retryDelayMs", 0...RequestFields.maxSafeInteger) ?? 0))
            }
            self = .fail(worker: try f.required("worker", f.string), reports)
        case .reconcile:
            var holding: Set<JobID> = []
            for text in try f.strings("holding") ?? [] {
                guard let id = JobID(text) else { throw .invalid("'holding' has a bad job id: '\(text.prefix(40))'") }
                holding.insert(id)
            }
            self = .reconcile(worker: try f.required("worker", f.string), queues: try f.required("queues", f.strings), holding: holding)
        case .deregister:
            self = .deregister(worker: try f.required("worker", f.string))
        case .cancelRequests:
            self = .cancelRequests(
                worker: try f.required("worker", f.string), wait: .milliseconds(try f.bounded("waitMs", 0...60_000) ?? 0))
        }
    }

    /// Parses a TCP frame's `op` and its fields.
    package init(op: String, fields: RequestFields) throws(APIError) {
        guard let operation = APIOperation(rawValue: op), operation.isOnTCP else {
            let names = APIOperation.tcpOperations.map(\.rawValue).joined(separator: ", ")
            throw .malformed("unknown operation '\(op.prefix(40))'; one of \(names)")
        }
        try self.init(operation, fields: fields)
    }

    private static func offset(_ f: RequestFields) throws(APIError) -> Int {
        try f.bounded("offset", 0...100_000) ?? 0
    }

    private static func limit(_ f: RequestFields) throws(APIError) -> Int {
        try f.bounded("limit", 1...1000) ?? 50
    }
}
