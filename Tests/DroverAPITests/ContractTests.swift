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
        .submitBatch([JobRequest(type: "a"), JobRequest(queue: "q", type: "b", payload: "[1,2]")]),
        .job(id, queue: "mail", wait: .milliseconds(1500)),
        .job(id, queue: nil, wait: nil),
        .queues,
        .jobs(queue: "mail", state: .retryQueued, offset: 10, limit: 20),
        .workers,
        .deadLetters(queue: "mail", offset: 0, limit: 5),
        .deadLetters(queue: nil, offset: 3, limit: 50),
        .retryDeadLetter(id, queue: "mail"),
        .purgeDeadLetters(queue: "mail"),
        .purgeDeadLetters(queue: nil),
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
