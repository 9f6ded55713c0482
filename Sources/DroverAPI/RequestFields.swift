import DroverCore
import Foundation

/// The members of a JSON request object, read with the types the API expects; a member of
/// the wrong type is a 422 naming it, a body that is not a JSON object a 400.
package struct RequestFields: Sendable {
    package let raw: [String: String]

    package init(json text: String) throws(APIError) {
        guard !text.allSatisfy(\.isWhitespace) else { throw .malformed("the body is empty; expected a JSON object") }
        do {
            raw = try JSONScanner.objectFields(text)
        } catch {
            throw .malformed("the body is not a JSON object: \(error)")
        }
    }

    package init(raw: [String: String]) {
        self.raw = raw
    }

    /// These fields with `values` added as JSON strings (path and query parameters).
    package func adding(_ values: [String: String]) -> RequestFields {
        var raw = self.raw
        for (key, value) in values { raw[key] = JSONScanner.quote(value) }
        return RequestFields(raw: raw)
    }

    package func has(_ key: String) -> Bool { raw[key].map { $0 != "null" } ?? false }

    /// The member decoded as `T`; absent is `nil`, but an explicit `null` is refused like any
    /// other value of the wrong type.
    package func decode<T: Decodable>(_ key: String, as type: T.Type, expected: String) throws(APIError) -> T? {
        guard let text = raw[key] else { return nil }
        if text == "null" { throw .invalid("'\(key)' must be \(expected), not null") }
        do {
            return try WireFormat.decode(T.self, from: text)
        } catch {
            throw .invalid("'\(key)' must be \(expected)")
        }
    }

    package func string(_ key: String) throws(APIError) -> String? { try decode(key, as: String.self, expected: "a string") }
    /// An integer, also when given as a string of digits (as query parameters are).
    package func int(_ key: String) throws(APIError) -> Int? {
        if let text = try? decode(key, as: String.self, expected: ""), let value = Int(text) { return value }
        return try decode(key, as: Int.self, expected: "an integer")
    }
    package func strings(_ key: String) throws(APIError) -> [String]? {
        try decode(key, as: [String].self, expected: "an array of strings")
    }

    package func required<T>(_ key: String, _ read: (String) throws(APIError) -> T?) throws(APIError) -> T {
        guard let value = try read(key) else { throw .invalid("'\(key)' is required") }
        return value
    }

    package func jobID(_ key: String) throws(APIError) -> JobID {
        let text = try required(key, string)
        guard let id = JobID(text) else { throw .invalid("'\(key)' is not a job id: '\(text.prefix(40))'") }
        return id
    }

    /// The elements of an array member, each as its own fields.
    package func objects(_ key: String) throws(APIError) -> [RequestFields] {
        guard let text = raw[key], text != "null" else { throw .invalid("'\(key)' is required") }
        do {
            return try JSONScanner.arrayElements(text).map { element throws(APIError) in
                do {
                    return RequestFields(raw: try JSONScanner.objectFields(element))
                } catch {
                    throw .invalid("every element of '\(key)' must be an object")
                }
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw .invalid("'\(key)' must be an array")
        }
    }

    /// A job request as `POST /v1/jobs` takes it; `payload` is kept as the exact JSON sent.
    package func jobRequest() throws(APIError) -> JobRequest {
        JobRequest(
            queue: try string("queue") ?? "default", type: try required("type", string), payload: raw["payload"] ?? "{}",
            maxAttempts: try int("maxAttempts"),
            backoff: try decode("backoff", as: BackoffPolicy.self, expected: #"an object like {"strategy":"exponential","baseMs":1000}"#),
            timeoutMs: try bounded("timeoutMs", 1...Self.maxSafeInteger), idempotencyKey: try string("idempotencyKey"),
            start: try jobStart(), priority: try bounded("priority", JobRequest.priorities), unique: try uniqueLock())
    }

    /// A schedule's definition as `POST /v1/schedules` takes it: `name`, `cron`, `timeZone`,
    /// `missedFirings`, `paused`, and the job's fields as `POST /v1/jobs` takes them.
    package func schedule() throws(APIError) -> Schedule {
        let missed = try string("missedFirings") ?? Schedule.MissedFirings.skip.rawValue
        guard let policy = Schedule.MissedFirings(rawValue: missed) else { throw .invalid("'missedFirings' must be skip or once") }
        return Schedule(
            name: try required("name", string), cron: try required("cron", string), timeZone: try string("timeZone") ?? "UTC",
            job: try jobRequest(), missedFirings: policy, paused: try decode("paused", as: Bool.self, expected: "true or false") ?? false)
    }

    /// A workflow as `POST /v1/workflows` takes it: `queue`, `name`, `onParentFailure` and
    /// `jobs`, each a job as `POST /v1/jobs` takes it (its queue is the workflow's) with its
    /// `name` and `dependsOn`: parent names, or objects `{"name":"…","onParentFailure":"…"}`.
    package func workflowRequest() throws(APIError) -> WorkflowRequest {
        let queue = try string("queue") ?? "default"
        let jobs = try objects("jobs")
        guard jobs.count <= WorkflowRequest.maxJobs else { throw .invalid("at most \(WorkflowRequest.maxJobs) jobs per workflow") }
        var nodes: [WorkflowJob] = []
        for job in jobs {
            var request = try job.jobRequest()
            if !job.has("queue") { request.queue = queue }
            nodes.append(WorkflowJob(name: try job.required("name", job.string), job: request, dependsOn: try job.edges()))
        }
        return WorkflowRequest(
            queue: queue, name: try string("name"), jobs: nodes, onParentFailure: try policy("onParentFailure") ?? .wait)
    }

    /// A batch as `POST /v1/batches` takes it: members in `jobs`, callbacks in `onComplete`
    /// and `onSuccess`, each job of the batch's queue unless it names its own.
    package func batchRequest() throws(APIError) -> BatchRequest {
        let queue = try string("queue") ?? "default"
        func callback(_ key: String) throws(APIError) -> JobRequest? {
            guard has(key) else { return nil }
            guard let text = raw[key], let members = try? JSONScanner.objectFields(text) else {
                throw .invalid("'\(key)' must be a job: an object like {\"type\":\"report\"}")
            }
            var request = try RequestFields(raw: members).jobRequest()
            if members["queue"] == nil { request.queue = queue }
            return request
        }
        return BatchRequest(
            queue: queue, name: try string("name"), jobs: has("jobs") ? try memberRequests(queue: queue) : [],
            onComplete: try callback("onComplete"), onSuccess: try callback("onSuccess"), open: try bool("open") ?? false)
    }

    /// The `jobs` of a batch, each of `queue` unless it names its own; with no `queue` known,
    /// an empty one, which the store replaces with the batch's.
    package func memberRequests(queue: String?) throws(APIError) -> [JobRequest] {
        let jobs = try objects("jobs")
        guard jobs.count <= WorkflowRequest.maxJobs else { throw .invalid("at most \(WorkflowRequest.maxJobs) jobs per batch") }
        var requests: [JobRequest] = []
        for job in jobs {
            var request = try job.jobRequest()
            if !job.has("queue") {
                request.queue = queue ?? ""
            } else if request.queue.isEmpty {
                throw .invalid("a job's 'queue' must not be empty; leave it out for the batch's")
            }
            requests.append(request)
        }
        return requests
    }

    package func bool(_ key: String) throws(APIError) -> Bool? { try decode(key, as: Bool.self, expected: "true or false") }

    private func policy(_ key: String) throws(APIError) -> ParentFailurePolicy? {
        guard let name = try string(key) else { return nil }
        guard let policy = ParentFailurePolicy(rawValue: name) else {
            throw .invalid("'\(key)' must be one of \(ParentFailurePolicy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return policy
    }

    private func edges() throws(APIError) -> [WorkflowEdge] {
        guard let text = raw["dependsOn"] else { return [] }
        let expected = #"'dependsOn' must be an array of job names or objects like {"name":"extract","onParentFailure":"continue"}"#
        guard text != "null", let elements = try? JSONScanner.arrayElements(text) else { throw .invalid(expected) }
        var edges: [WorkflowEdge] = []
        for element in elements {
            if let name = try? WireFormat.decode(String.self, from: element) {
                edges.append(WorkflowEdge(name))
            } else if let members = try? JSONScanner.objectFields(element) {
                let edge = RequestFields(raw: members)
                edges.append(WorkflowEdge(try edge.required("name", edge.string), onParentFailure: try edge.policy("onParentFailure")))
            } else {
                throw .invalid(expected)
            }
        }
        return edges
    }

    /// `unique`: `true` (the type and payload, until the job finishes), `false`, or
    /// `{"key":"…","ttlMs":…}` with either member left out.
    package func uniqueLock() throws(APIError) -> UniqueLock? {
        guard let text = raw["unique"] else { return nil }
        if text == "true" { return UniqueLock() }
        if text == "false" { return nil }
        let expected = #"true, false or an object like {"key":"report-7","ttlMs":60000}"#
        guard let members = try? JSONScanner.objectFields(text) else { throw .invalid("'unique' must be \(expected)") }
        let f = RequestFields(raw: members)
        for name in members.keys where name != "key" && name != "ttlMs" {
            throw .invalid("'unique' has an unknown member '\(name.prefix(40))'; it takes key and ttlMs")
        }
        let ttl = try f.bounded("ttlMs", 1...Int(UniqueLock.maxTTL.milliseconds))
        let lock = UniqueLock(key: try f.string("key"), ttl: ttl.map { .milliseconds($0) })
        do { try lock.validate() } catch { throw .invalid(error.description) }
        return lock
    }

    /// `delayMs` (a number of milliseconds) or `runAt` (RFC 3339 text, or milliseconds since
    /// 1970), not both.
    package func jobStart() throws(APIError) -> JobStart? {
        let delay = try bounded("delayMs", 0...Int(JobStart.maxDelay.milliseconds))
        let runAt: JobStart?
        if raw["runAt"] == nil {
            runAt = nil
        } else if let text = try? string("runAt") {
            guard let start = JobStart.at(rfc3339: text) else {
                throw .invalid("'runAt' must be an RFC 3339 time like 2026-12-03T14:00:00Z, got '\(text.prefix(40))'")
            }
            runAt = start
        } else {
            runAt = .at(epochMs: Int64(try bounded("runAt", 0...Int(JobStart.latestRunAtMs))!))
        }
        switch (delay, runAt) {
        case (nil, nil): return nil
        case (let delay?, nil): return .after(.milliseconds(delay))
        case (nil, let start?): return start
        case (_?, _?): throw .invalid("give 'delayMs' or 'runAt', not both")
        }
    }

    package func lease() throws(APIError) -> JobLease {
        let queue = try required("queue", string)
        do { try Names.validateQueue(queue) } catch { throw .invalid(error.description) }
        return JobLease(id: try jobID("id"), queue: queue, attempt: try bounded("attempt", 0...Self.maxSafeInteger, required: true)!)
    }

    /// JSON's largest exactly representable integer: the bound of every count the API takes.
    package static let maxSafeInteger = 9_007_199_254_740_991

    /// An integer within `range`.
    package func bounded(_ key: String, _ range: ClosedRange<Int>, required: Bool = false) throws(APIError) -> Int? {
        guard let value = try required ? self.required(key, int) : int(key) else { return nil }
        guard range.contains(value) else {
            throw .invalid("'\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }
}

/// Parses `5s`, `500ms`, `2m`, `1.5s` or a plain number of seconds (up to 5 digits, 3 decimals).
package func parseDuration(_ text: String) throws(APIError) -> Duration {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60)]
    var number = Substring(text)
    var scale = 1.0
    if let unit = units.first(where: { text.hasSuffix($0.0) }) {
        number = number.dropLast(unit.0.count)
        scale = unit.1
    }
    let parts = number.split(separator: ".", omittingEmptySubsequences: false)
    let digits = { (part: Substring, most: Int) in
        !part.isEmpty && part.count <= most && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber)
    }
    guard (1...2).contains(parts.count), digits(parts[0], 5), parts.count == 1 || digits(parts[1], 3), let value = Double(number) else {
        throw .invalid("'\(text.prefix(40))' is not a duration; use 5s, 500ms or 2m")
    }
    return .milliseconds(Int64(value * scale * 1000))
}
