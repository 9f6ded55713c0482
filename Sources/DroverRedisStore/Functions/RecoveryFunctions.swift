import DroverCore
import DroverRedis

/// Hands back the jobs of a worker whose heartbeat stopped: ids it moved but never claimed go
/// back to the head of the queue; jobs it held go through FAILED (``FailureReason/workerLost``).
///
/// The heartbeat is not read here: it lives in the slot of the keys of no queue, which under
/// Redis Cluster may be another node's, so the reaper checks it (``SilentWorkerFunction``)
/// right before this call. A worker that beats again in between has its jobs re-run, and its
/// late reports are fenced off: at-least-once, as for any worker taken for lost.
struct ReapFunction: QueueFunction {
    enum Answer: Equatable {
        case requeued
        /// Failed: RETRY_QUEUED or DEAD_LETTER.
        case failed(JobState)
        /// Not the worker's any more.
        case skipped
    }

    var queue: String
    var worker: String?
    /// The ids in the worker's active list, each with the retry delay its own backoff gives.
    var jobs: [(id: String, retryDelayMs: Int)]
    /// For the failure's reason.
    var heartbeatTimeout: Duration

    static let name = "reap"
    static let layout = ArgumentLayout(leading: ["worker", "reason"], perJob: ["id", "delay"])

    var arguments: [any RedisArgument] {
        Self.layout.encode(
            [worker ?? "-", FailureReason.workerLost(worker ?? "-", silentFor: heartbeatTimeout)],
            jobs: jobs.map { [$0.id, $0.retryDelayMs] })
    }

    /// One answer per id, in order.
    func decode(_ reply: RESPValue) throws(RedisError) -> [Answer] {
        try reply.elements().compactMap(\.string).map { answer in
            switch answer {
            case "REQUEUED": .requeued
            case "SKIPPED": .skipped
            default: JobState(rawValue: answer).map(Answer.failed) ?? .skipped
            }
        }
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        local out = {}
        \(layout.forEachJob)
          redis.call('LREM', ACTIVE_KEY, 0, id)
          local j = load(id, FIELD.attemptBase, FIELD.maxAttempts, FIELD.priority, unpack(ENDING))
          if id == MARKER then
            -- A wake-up the worker fetched and never claimed: another worker gets it.
            enqueue(MARKER, true)
            out[#out + 1] = 'SKIPPED'
          elseif j.state == 'QUEUED' then
            enqueue_job(j, true)
            out[#out + 1] = 'REQUEUED'
          elseif (j.state == 'RUNNING' or j.state == 'ASSIGNED') and j.worker == worker then
            out[#out + 1] = fail(j, at, tonumber(j.attempt), worker, reason, tonumber(delay), false)
            count(COUNTER.reassigned, j)
          else
            out[#out + 1] = 'SKIPPED'
          end
        end
        if redis.call('LLEN', ACTIVE_KEY) == 0 then redis.call('SREM', HOLDERS_KEY, worker) end
        return out
        """
}

/// Makes a worker's processing list agree with what the worker says it holds: ids still
/// QUEUED (moved by a blocking fetch nobody claimed) go back to the head of the queue; jobs
/// held under the worker's name that it does not know of (a claim whose reply was lost) go
/// FAILED → RETRY_QUEUED (``FailureReason/forgotten(by:)``), due at once and not counted
/// against them; ids of jobs the worker no longer holds are dropped.
struct ReconcileFunction: QueueFunction {
    var queue: String
    var worker: String?
    var holding: Set<JobID>

    static let name = "reconcile"
    static let layout = ArgumentLayout(leading: ["worker", "reason"], perJob: ["id"])

    var arguments: [any RedisArgument] {
        Self.layout.encode([worker ?? "-", FailureReason.forgotten(by: worker ?? "-")], jobs: holding.map { [$0.rawValue] })
    }

    func decode(_ reply: RESPValue) throws(RedisError) -> ReconcileReport {
        let parts = try reply.elements().compactMap(\.string)
        var report = ReconcileReport()
        for i in stride(from: 0, to: parts.count - 1, by: 2) {
            guard let id = JobID(parts[i]) else { continue }
            if parts[i + 1] == "REQUEUED" { report.requeued.append(id) } else { report.handedBack.append(id) }
        }
        return report
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        local holding = {}
        \(layout.forEachJob) holding[id] = true end
        local out = {}
        for _, id in ipairs(redis.call('LRANGE', ACTIVE_KEY, 0, -1)) do
          local j = load(id, FIELD.attemptBase, FIELD.maxAttempts, FIELD.priority, unpack(ENDING))
          local mine = (j.state == 'ASSIGNED' or j.state == 'RUNNING') and j.worker == worker
          if not (mine and holding[id]) then
            redis.call('LREM', ACTIVE_KEY, 0, id)
            if id == MARKER then
              enqueue(MARKER, true)
            elseif mine then
              fail(j, at, tonumber(j.attempt), worker, reason, 0, true)
              out[#out + 1] = id
              out[#out + 1] = 'HANDED_BACK'
            elseif j.state == 'QUEUED' then
              enqueue_job(j, true)
              out[#out + 1] = id
              out[#out + 1] = 'REQUEUED'
            end
          end
        end
        if redis.call('LLEN', ACTIVE_KEY) == 0 then redis.call('SREM', HOLDERS_KEY, worker) end
        return out
        """
}
