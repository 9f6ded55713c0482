import DroverCore

extension APIRequest {
    /// The request's fields, each the JSON text of its value: what ``init(_:fields:)`` parses
    /// back into this request. A remote transport sends them as a TCP frame's members or as
    /// the REST route's path parameters and body or query.
    public var fields: [String: String] {
        switch self {
        case .submit(let request):
            return Self.fields(of: request)
        case .submitBatch(let requests):
            return ["jobs": Self.jobs(requests)]
        case .job(let id, let queue, let wait):
            var fields = ["id": q(id.rawValue)]
            if let queue { fields["queue"] = q(queue) }
            if let wait { fields["wait"] = q("\(wait.milliseconds)ms") }
            return fields
        case .queues, .workers, .health, .schedules:
            return [:]
        case .putSchedule(let schedule):
            return Self.fields(of: schedule)
        case .removeSchedule(let name), .pauseSchedule(let name), .resumeSchedule(let name):
            return ["name": q(name)]
        case .throughput(let since):
            return since.map { ["since": String($0)] } ?? [:]
        case .jobs(let queue, let state, let cursor, let limit):
            var fields = ["queue": q(queue), "state": q(state.rawValue), "limit": String(limit)]
            if let cursor { fields["cursor"] = q(cursor.description) }
            return fields
        case .deadLetters(let queue, let offset, let limit):
            var fields = ["offset": String(offset), "limit": String(limit)]
            if let queue { fields["queue"] = q(queue) }
            return fields
        case .retryDeadLetter(let id, let queue), .cancel(let id, let queue), .workflow(let id, let queue),
            .cancelWorkflow(let id, let queue):
            var fields = ["id": q(id.rawValue)]
            if let queue { fields["queue"] = q(queue) }
            return fields
        case .purgeDeadLetters(let queue):
            return queue.map { ["queue": q($0)] } ?? [:]
        case .pauseQueue(let queue), .resumeQueue(let queue):
            return ["queue": q(queue)]
        case .setQueueLimits(let queue, let limits):
            var fields = ["queue": q(queue)]
            if let rate = limits.rate { fields["rate"] = WireFormat.encode(rate) }
            if let concurrency = limits.concurrency { fields["concurrency"] = String(concurrency) }
            return fields
        case .heartbeat(let info):
            return [
                "worker": q(info.id), "host": q(info.host), "pid": String(info.pid), "queues": WireFormat.encode(info.queues),
                "concurrency": String(info.concurrency), "inFlight": String(info.inFlight), "startedAt": String(info.startedAt),
                "version": q(info.version),
            ]
        case .claim(let worker, let queues, let max, let start, let wait):
            return [
                "worker": q(worker), "queues": WireFormat.encode(queues), "max": String(max), "start": String(start),
                "waitMs": String(wait.milliseconds),
            ]
        case .start(let worker, let leases):
            return ["worker": q(worker), "jobs": WireFormat.encode(leases)]
        case .complete(let worker, let reports):
            let items = reports.map { r in Self.object(Self.fields(of: r.lease).merging(["result": r.result]) { $1 }) }
            return ["worker": q(worker), "reports": WireFormat.array(items)]
        case .fail(let worker, let reports):
            let items = reports.map { r in
                Self.object(
                    Self.fields(of: r.lease).merging(
                        ["error": q(r.error), "kind": q(r.kind.rawValue), "retryDelayMs": String(r.retryDelayMs)]
                    ) { $1 })
            }
            return ["worker": q(worker), "reports": WireFormat.array(items)]
        case .reconcile(let worker, let queues, let holding):
            return [
                "worker": q(worker), "queues": WireFormat.encode(queues), "holding": WireFormat.encode(holding.map(\.rawValue).sorted()),
            ]
        case .deregister(let worker):
            return ["worker": q(worker)]
        case .cancelRequests(let worker, let wait):
            return ["worker": q(worker), "waitMs": String(wait.milliseconds)]
        case .submitWorkflow(let workflow):
            return Self.fields(of: workflow)
        case .createBatch(let batch):
            var fields = ["queue": q(batch.queue), "jobs": Self.jobs(batch.jobs), "open": String(batch.open)]
            if let name = batch.name { fields["name"] = q(name) }
            if let job = batch.onComplete { fields["onComplete"] = Self.object(Self.fields(of: job)) }
            if let job = batch.onSuccess { fields["onSuccess"] = Self.object(Self.fields(of: job)) }
            return fields
        case .addToBatch(let id, let queue, let jobs, let close):
            var fields = ["id": q(id.rawValue), "jobs": Self.jobs(jobs), "close": String(close)]
            if let queue { fields["queue"] = q(queue) }
            return fields
        case .recordEffect(let worker, let lease, let step, let value):
            return Self.fields(of: lease).merging(["worker": q(worker), "step": q(step), "value": value]) { $1 }
        }
    }

    /// A JSON object of already-encoded members, in a stable order.
    public static func object(_ fields: [String: String]) -> String {
        "{" + fields.sorted { $0.key < $1.key }.map { "\(JSONScanner.quote($0.key)):\($0.value)" }.joined(separator: ",") + "}"
    }

    private static func jobs(_ requests: [JobRequest]) -> String {
        WireFormat.array(requests.map { Self.object(Self.fields(of: $0)) })
    }

    private static func fields(of r: JobRequest) -> [String: String] {
        var fields = ["type": q(r.type), "payload": r.payload]
        // An empty queue is a batch member's that takes the batch's (see `memberRequests`).
        if !r.queue.isEmpty { fields["queue"] = q(r.queue) }
        if let v = r.maxAttempts { fields["maxAttempts"] = String(v) }
        if let v = r.backoff { fields["backoff"] = WireFormat.encode(v) }
        if let v = r.timeoutMs { fields["timeoutMs"] = String(v) }
        if let v = r.idempotencyKey { fields["idempotencyKey"] = q(v) }
        if let v = r.priority { fields["priority"] = String(v) }
        if let v = r.unique {
            var members: [String: String] = [:]
            if let key = v.key { members["key"] = q(key) }
            if let ttl = v.ttl { members["ttlMs"] = String(ttl.milliseconds) }
            fields["unique"] = members.isEmpty ? "true" : object(members)
        }
        switch r.start {
        case .after(let delay): fields["delayMs"] = String(delay.milliseconds)
        case .at(let ms): fields["runAt"] = String(ms)
        case nil: break
        }
        return fields
    }

    /// A schedule's definition as `POST /v1/schedules` takes it: the job's fields, and its own.
    static func fields(of s: Schedule) -> [String: String] {
        var fields = Self.fields(of: s.job)
        fields["name"] = q(s.name)
        fields["cron"] = q(s.cron)
        fields["timeZone"] = q(s.timeZone)
        fields["missedFirings"] = q(s.missedFirings.rawValue)
        fields["paused"] = String(s.paused)
        return fields
    }

    /// A workflow as `POST /v1/workflows` takes it.
    static func fields(of w: WorkflowRequest) -> [String: String] {
        var fields = ["queue": q(w.queue), "onParentFailure": q(w.onParentFailure.rawValue)]
        if let name = w.name { fields["name"] = q(name) }
        let jobs = w.jobs.map { job in
            var members = Self.fields(of: job.job)
            members["name"] = q(job.name)
            if !job.dependsOn.isEmpty {
                members["dependsOn"] = WireFormat.array(
                    job.dependsOn.map { edge in
                        edge.onParentFailure.map { object(["name": q(edge.parent), "onParentFailure": q($0.rawValue)]) } ?? q(edge.parent)
                    })
            }
            return object(members)
        }
        fields["jobs"] = WireFormat.array(jobs)
        return fields
    }

    private static func fields(of lease: JobLease) -> [String: String] {
        ["id": q(lease.id.rawValue), "queue": q(lease.queue), "attempt": String(lease.attempt)]
    }
}

private func q(_ text: String) -> String { JSONScanner.quote(text) }
