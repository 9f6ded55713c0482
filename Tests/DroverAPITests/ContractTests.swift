import DroverAPI
import DroverCore
import Testing

/// The operations table, and requests and errors as they travel: what one side encodes, the
/// other parses back to the same value.
@Suite struct ContractTests {
    static let id = JobID()
    static let lease = JobLease(id: id, queue: "mail", attempt: 3)

    /// One request of every operation but metrics (Prometheus text, not a request).
    static let requests: [APIRequest] = [
        .submit(
            JobRequest(
                queue: "mail", type: "send", payload: #"{"to":["a@b.c"],"n":1.50}"#, maxAttempts: 4,
                backoff: .exponential(baseMs: 100, maxMs: 5000), timeoutMs: 900, idempotencyKey: "order-7")),
        .submitBatch([
            JobRequest(type: "a", start: .after(.milliseconds(1500))), JobRequest(queue: "q", type: "b", payload: "[1,2]"),
            JobRequest(type: "c", start: .at(epochMs: 1_800_000_000_000)),
        ]),
        .cancel(id, queue: "mail"),
        .cancel(id, queue: nil),
        .job(id, queue: "mail", wait: .milliseconds(1500)),
        .job(id, queue: nil, wait: nil),
        .queues,
        .jobs(queue: "mail", state: .retryQueued, after: JobCursor(last: id, place: .rank(20)), limit: 20),
        .jobs(queue: "mail", state: .queued, after: JobCursor(last: id, place: .line(7)), limit: 5),
        .jobs(queue: "mail", state: .completed, after: nil, limit: 50),
        .workers,
        .throughput(since: 1_800_000_000_000),
        .throughput(since: nil),
        .deadLetters(queue: "mail", offset: 0, limit: 5),
        .deadLetters(queue: nil, offset: 3, limit: 50),
        .retryDeadLetter(id, queue: "mail"),
        .purgeDeadLetters(queue: "mail"),
        .purgeDeadLetters(queue: nil),
        .pauseQueue("mail"),
        .resumeQueue("mail"),
        .setQueueLimits("mail", QueueLimits(rate: .init(count: 50, periodMs: 2000), concurrency: 5)),
        .setQueueLimits("mail", QueueLimits(concurrency: 1)),
        .setQueueLimits("mail", .none),
        .schedules,
        .putSchedule(
            Schedule(
                name: "nightly", cron: "0 3 * * *", timeZone: "Europe/Berlin",
                job: JobRequest(queue: "reports", type: "report", payload: #"{"all":true}"#, maxAttempts: 2, priority: 4),
                missedFirings: .once, paused: true)),
        .putSchedule(Schedule(name: "tick", cron: "* * * * * *", job: JobRequest(type: "t", unique: UniqueLock(key: "k")))),
        .removeSchedule("nightly"),
        .pauseSchedule("nightly"),
        .resumeSchedule("nightly"),
        .health,
        .heartbeat(
            WorkerInfo(
                id: "w1@fleet", host: "h", pid: 42, queues: ["a", "b"], concurrency: 8, inFlight: 2, startedAt: 1_700_000, version: "1")),
        .claim(worker: "w1", queues: ["a", "b"], max: 16, start: true, wait: .milliseconds(5000)),
        .claim(worker: "w1", queues: ["a"], max: 1, start: false, wait: .zero),
        .start(worker: "w1", [lease]),
        .complete(worker: "w1", [CompletionReport(lease: lease, result: #"{"ok":true}"#)]),
        .fail(worker: "w1", [FailureReport(lease: lease, error: "boom \"quoted\"", kind: .interrupted, retryDelayMs: 250)]),
        .reconcile(worker: "w1", queues: ["a"], holding: [id, JobID()]),
        .deregister(worker: "w1"),
        .cancelRequests(worker: "w1", wait: .milliseconds(2000)),
        .submitWorkflow(
            WorkflowRequest(
                queue: "etl", name: "nightly",
                jobs: [
                    WorkflowJob(name: "extract", job: JobRequest(queue: "etl", type: "extract", payload: #"{"day":"2026-12-03"}"#)),
                    WorkflowJob(
                        name: "load", job: JobRequest(queue: "etl", type: "load", maxAttempts: 5, priority: 2),
                        dependsOn: ["extract", WorkflowEdge("extract2", onParentFailure: .continue)]),
                    WorkflowJob(name: "extract2", job: JobRequest(queue: "etl", type: "extract")),
                ], onParentFailure: .cancel)),
        .workflow(id, queue: "etl"),
        .workflow(id, queue: nil),
        .cancelWorkflow(id, queue: nil),
        .createBatch(
            BatchRequest(
                queue: "mail", name: "newsletter",
                jobs: [JobRequest(queue: "mail", type: "send", payload: #"{"to":"a@b.c"}"#), JobRequest(queue: "mail", type: "send")],
                onComplete: JobRequest(queue: "mail", type: "report"), onSuccess: JobRequest(queue: "mail", type: "thank", maxAttempts: 2),
                open: true)),
        .createBatch(BatchRequest(jobs: [JobRequest(type: "t")], onSuccess: JobRequest(type: "done"))),
        .addToBatch(id, queue: "mail", jobs: [JobRequest(queue: "mail", type: "send", priority: 3)], close: true),
        .addToBatch(id, queue: nil, jobs: [], close: false),
        .recordEffect(worker: "w1", lease, step: "charge-card", value: #"{"receipt":"r-1"}"#),
    ]

    @Test func everyOperationHasOneRouteAndEveryRequestOneOperation() {
        let routes = APIOperation.allCases.map { "\($0.route.method.rawValue) \($0.route.path)" }
        #expect(Set(routes).count == routes.count)
        #expect(Set(Self.requests.map(\.operation)) == Set(APIOperation.allCases).subtracting([.metrics]))
        #expect(APIOperation.tcpOperations.count == APIOperation.allCases.count - 1)
    }

    @Test func rolesFollowTheTable() {
        for operation in APIOperation.allCases {
            #expect(Role.admin.permits(operation))
            #expect(Role.client.permits(operation) == [.anyone, .client].contains(operation.access), "\(operation)")
            #expect(Role.worker.permits(operation) == [.anyone, .worker].contains(operation.access), "\(operation)")
        }
        #expect(!Role.client.permits(.purgeDeadLetters) && !Role.worker.permits(.submit) && Role.worker.permits(.health))
    }

    /// What a remote transport sends is what a door parses: through a TCP frame's members, and
    /// through a REST route (path parameters and query values as the strings they arrive as).
    @Test(arguments: requests)
    func aRequestSurvivesItsFields(_ request: APIRequest) throws {
        let fields = request.fields
        let frame = try RequestFields(json: APIRequest.object(fields))
        #expect(try APIRequest(op: request.operation.rawValue, fields: frame) == request)

        let route = request.operation.route
        var body = fields
        var strings: [String: String] = [:]
        for (key, value) in fields where route.path.contains("{\(key)}") || !route.hasBody {
            body[key] = nil
            strings[key] = (try? WireFormat.decode(String.self, from: value)) ?? value
        }
        let rest = try RequestFields(json: APIRequest.object(body)).adding(strings)
        #expect(try APIRequest(request.operation, fields: rest) == request)
    }

    @Test func anUnknownOperationNamesTheKnownOnes() throws {
        let fields = try RequestFields(json: "{}")
        #expect(throws: APIError.self) { try APIRequest(op: "metrics", fields: fields) }
        do {
            _ = try APIRequest(op: "explode", fields: fields)
            Issue.record("parsed an unknown operation")
        } catch {
            #expect(error.code == .malformed && error.message.contains("submitBatch"))
        }
    }

    static let jobErrors: [JobError] = [
        .invalidName(field: "queue", value: "a b", reason: "no spaces"),
        .invalidJSON(field: "payload", reason: "unexpected end"),
        .payloadTooLarge(bytes: 2_000_000, limit: 1_048_576),
        .invalidField("maxAttempts", "must be at least 1"),
        .notFound(id),
        .illegalTransition(id: id, from: .running, to: .queued),
        .unknownQueue("mail"),
    ]

    /// A store's error crosses the wire whole: code, status, message and the error itself.
    @Test(arguments: jobErrors)
    func aStoreErrorSurvivesTheWire(_ jobError: JobError) throws {
        let error = APIError(jobError)
        #expect(error.jobError == jobError && error.message == jobError.description)
        let decoded = try #require(APIError.decode(body: error.json))
        #expect(decoded == error)
        #expect(decoded.status == [404: 404, 409: 409, 413: 413].first { $0.key == error.status }?.value ?? 422)
    }

    @Test func everyCodeHasItsOwnStatus() {
        let statuses = APIError.Code.allCases.map(\.status)
        #expect(Set(statuses).count == statuses.count)
        #expect(APIError.decode(body: #"{"error":{"code":"forbidden","message":"no"}}"#) == .forbidden("no"))
        #expect(APIError.decode(body: #"{"error":{"code":"teapot","message":"?"}}"#) == nil)
    }
}

/// Results as they travel: what the master encodes, a remote store decodes to the same value.
@Suite struct ResultContractTests {
    static let job = Job(
        id: JobID(), queue: "mail", type: "send", payload: #"{"to":"a@b.c","n":1.50}"#, state: .completed, attempt: 2,
        maxAttempts: 3, backoff: .fixed(ms: 10), worker: "w1", result: #"[true,null]"#,
        timestamps: ["completedAt": 1_700_000_000_123], history: [JobTransition(state: .completed, at: 1_700_000_000_123, attempt: 2)])
    static let claimed = ClaimedJob(
        id: JobID(), queue: "q", type: "t", payload: "{}", state: .running, attempt: 1, maxAttempts: 3, attemptBase: 0,
        backoff: .standard, timeoutMs: 500)

    static let cases: [(APIOperation, APIResult)] = [
        (.submit, .created(SubmittedJob(id: JobID(), queue: "mail", created: true))),
        (.submit, .created(SubmittedJob(id: JobID(), queue: "mail", created: true, state: .scheduled))),
        (.cancel, .cancel(JobID(), .cancelled)),
        (.cancel, .cancel(JobID(), .stopping(worker: "w1"))),
        (.cancel, .cancel(JobID(), .stopping(worker: nil))),
        (.cancelRequests, .cancelRequests([JobID(), JobID()])),
        (.cancelRequests, .cancelRequests([])),
        (.pauseQueue, .queuePaused("mail", true)),
        (.resumeQueue, .queuePaused("mail", false)),
        (.setQueueLimits, .queueLimits("mail", QueueLimits(rate: .init(count: 50, periodMs: 2000), concurrency: 5))),
        (.setQueueLimits, .queueLimits("mail", .none)),
        (
            .putSchedule,
            .schedule(
                Schedule(
                    name: "nightly", cron: "0 3 * * *", job: JobRequest(queue: "reports", type: "report"), nextFireAt: 1_796_360_400_000,
                    lastFireAt: 1_796_274_000_000, lastJobID: JobID(), firings: 12), created: true)
        ),
        (.pauseSchedule, .schedule(Schedule(name: "tick", cron: "* * * * *", job: JobRequest(type: "t"), paused: true), created: false)),
        (.schedules, .schedules([Schedule(name: "tick", cron: "@daily", timeZone: "Asia/Kolkata", job: JobRequest(type: "t"))])),
        (.schedules, .schedules([])),
        (.removeSchedule, .scheduleRemoved("nightly")),
        (.submit, .job(job)),
        (.get, .job(job)),
        (.retryDeadLetter, .job(job)),
        (
            .submitBatch,
            .submitted([SubmittedJob(id: JobID(), queue: "a", created: true), SubmittedJob(id: JobID(), queue: "b", created: false)])
        ),
        (.queues, .queues([QueueCounts(queue: "mail", scheduled: 4, queued: 3, running: 1, deadLetter: 2, cancelled: 5, staleReports: 1)])),
        (.queues, .queues([QueueCounts(queue: "api", limits: QueueLimits(rate: .init(count: 10, periodMs: 1000)))])),
        (.jobs, .jobPage(JobPage(jobs: [job], next: JobCursor(last: job.id, place: .line(51))))),
        (.jobs, .jobPage(JobPage(jobs: [], next: nil))),
        (
            .throughput,
            .throughput([
                QueueThroughput(
                    queue: "mail",
                    samples: [
                        ThroughputSample(at: 1_800_000_000_000, completed: 7, failed: 2, deadLettered: 1),
                        ThroughputSample(at: 1_800_000_001_000, completed: 9, failed: 2, deadLettered: 1),
                    ]),
                QueueThroughput(queue: "empty", samples: []),
            ])
        ),
        (.deadLetters, .jobs([], offset: 0, limit: 50)),
        (
            .workers,
            .workers([WorkerInfo(id: "w", host: "h", pid: 1, queues: ["q"], concurrency: 2, inFlight: 1, startedAt: 5, version: "1")])
        ),
        (.purgeDeadLetters, .purged(7)),
        (.health, .healthy),
        (.heartbeat, .done),
        (.deregister, .done),
        (.claim, .claimed([claimed])),
        (.complete, .outcomes([.applied(.completed), .stale(current: .retryQueued), .stale(current: nil)])),
        (.reconcile, .reconciled(ReconcileReport(requeued: [JobID()], handedBack: [JobID()]))),
    ]

    @Test func aResultSurvivesTheWire() throws {
        for (operation, result) in Self.cases {
            #expect(try APIResult(operation, json: result.json) == result, "\(operation)")
        }
        #expect(APIResult.created(SubmittedJob(id: JobID(), queue: "q", created: true)).status == 201)
        #expect(APIResult.job(Self.job).status == 200)
    }

    @Test func anAnswerOfTheWrongShapeIsAnError() {
        #expect(throws: APIError.self) { try APIResult(.queues, json: #"{"workers":[]}"#) }
        #expect(throws: APIError.self) { try APIResult(.claim, json: "[]") }
    }
}
