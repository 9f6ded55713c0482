import DroverCore
import DroverRedis

/// A worker's fenced reports on jobs of one queue: each applies only while the job is still
/// held by this worker and attempt. The reply has one answer per job, the state it moved to
/// or `STALE <state>`.
protocol ReportFunction: QueueFunction where Reply == [ReportOutcome] {
    var count: Int { get }
}

extension ReportFunction {
    func decode(_ reply: RESPValue) throws(RedisError) -> [ReportOutcome] {
        let answers = try reply.elements()
        guard answers.count == count else { throw .unexpectedReply("\(Self.name) answered \(answers.count) of \(count) reports") }
        return answers.map { Self.outcome($0.string ?? "") }
    }

    static func outcome(_ answer: String) -> ReportOutcome {
        if answer.hasPrefix("STALE") {
            return .stale(current: answer.split(separator: " ").dropFirst().first.flatMap { JobState(rawValue: String($0)) })
        }
        return JobState(rawValue: answer).map(ReportOutcome.applied) ?? .stale(current: nil)
    }
}

/// ASSIGNED → RUNNING.
struct StartFunction: ReportFunction {
    var queue: String
    var worker: String?
    var leases: [JobLease]

    var count: Int { leases.count }

    static let name = "start"
    static let layout = ArgumentLayout(leading: ["worker"], perJob: ["id", "attempt"])

    var arguments: [any RedisArgument] {
        Self.layout.encode([worker ?? "-"], jobs: leases.map { [$0.id.rawValue, $0.attempt] })
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        local out = {}
        \(layout.forEachJob)
          attempt = tonumber(attempt)
          local j, refused = held(id, { ASSIGNED = true }, worker, attempt)
          if j then
            move(j, 'RUNNING', at, attempt, worker, nil)
            out[#out + 1] = 'RUNNING'
          else
            out[#out + 1] = refused
          end
        end
        return out
        """
}

/// RUNNING → COMPLETED, with the result; the job hash then expires after the retention. A job
/// whose cancel was asked for while it ran ends CANCELLED instead (its result is kept). A
/// workflow job's children learn of it in the same call, and the last parent queues a child.
/// The same report twice (a lost reply) answers COMPLETED again and changes nothing.
struct CompleteFunction: ReportFunction {
    var queue: String
    var worker: String?
    var reports: [CompletionReport]
    var retention: Duration

    var count: Int { reports.count }

    static let name = "complete"
    static let layout = ArgumentLayout(leading: ["worker", "retention"], perJob: ["id", "attempt", "result"])

    var arguments: [any RedisArgument] {
        Self.layout.encode(
            [worker ?? "-", retention.milliseconds], jobs: reports.map { [$0.lease.id.rawValue, $0.lease.attempt, $0.result] })
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        local out = {}
        local running = { RUNNING = true, repeated = 'COMPLETED' }
        \(layout.forEachJob)
          attempt = tonumber(attempt)
          local j, refused = held(id, running, worker, attempt, AT.RUNNING, FIELD.runAt, unpack(ENDING))
          if j and j.cancelRequestedAt then
            redis.call('LREM', ACTIVE_KEY, 1, id)
            out[#out + 1] = end_cancelled(j, at, attempt, worker, nil, { FIELD.result, result })
          elseif j then
            move(j, 'COMPLETED', at, attempt, worker, nil, { FIELD.result, result })
            if j.runAt then redis.call('HDEL', j.key, FIELD.runAt) end
            redis.call('LREM', ACTIVE_KEY, 1, id)
            redis.call('ZADD', COMPLETED_KEY, int(at), id)
            redis.call('PEXPIRE', j.key, retention)
            count(COUNTER.completed, j)
            record_runtime(j, at - tonumber(j[AT.RUNNING] or at))
            j.result = result
            finished(j, 'COMPLETED')
            out[#out + 1] = 'COMPLETED'
          else
            out[#out + 1] = refused
          end
        end
        return out
        """
}

/// RUNNING (or, for an interrupted job, ASSIGNED) → FAILED → RETRY_QUEUED or DEAD_LETTER.
struct FailFunction: ReportFunction {
    var queue: String
    var worker: String?
    var reports: [FailureReport]

    var count: Int { reports.count }

    static let name = "fail"
    static let layout = ArgumentLayout(leading: ["worker"], perJob: ["id", "attempt", "err", "delay", "kind"])

    var arguments: [any RedisArgument] {
        Self.layout.encode(
            [worker ?? "-"],
            jobs: reports.map { [$0.lease.id.rawValue, $0.lease.attempt, $0.error, $0.retryDelayMs, $0.kind.rawValue] })
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        local out = {}
        \(layout.forEachJob)
          attempt, delay = tonumber(attempt), tonumber(delay)
          local interrupted = kind == '\(FailureReport.Kind.interrupted.rawValue)'
          local j, refused = held(id, { RUNNING = true, ASSIGNED = interrupted }, worker, attempt, FIELD.attemptBase, FIELD.maxAttempts, unpack(ENDING))
          if j then
            redis.call('LREM', ACTIVE_KEY, 1, id)
            out[#out + 1] = fail(j, at, attempt, worker, err, delay, interrupted)
          else
            out[#out + 1] = refused
          end
        end
        return out
        """
}
