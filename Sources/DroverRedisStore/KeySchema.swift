import DroverCore

/// Every Redis key and channel name Drover uses, and nothing else builds one.
///
/// Every key carries a hash tag, so that under Redis Cluster no function call touches two
/// slots: the keys of one queue share `{queue}`, and the few keys of no queue share `{@}`, a
/// tag no queue name can be. A queue lives on one cluster node; the queues spread over them.
///
/// | key | type | holds |
/// |---|---|---|
/// | `drover:{q}:queued` | list | ids ready to run; submit `LPUSH`es, workers take from the right; `*` wakes a worker for a prioritized job |
/// | `drover:{q}:prioritized` | sorted set | QUEUED ids of priority 1 to 9: score (9 − priority) × 10¹³ + queued-at (ms), lowest first |
/// | `drover:{q}:paused` | list | the ready ids of a paused queue: pausing renames `queued` to this, resuming renames it back |
/// | `drover:{q}:active:<worker>` | list | ids a worker has taken (its processing list) |
/// | `drover:{q}:holders` | set | workers that may have a processing list in this queue |
/// | `drover:{q}:scheduled` | sorted set | SCHEDULED (delayed) ids by due time (ms) |
/// | `drover:{q}:retry` | sorted set | RETRY_QUEUED ids by due time (ms) |
/// | `drover:{q}:dead` | sorted set | DEAD_LETTER ids by time of death (ms) |
/// | `drover:{q}:completed` | sorted set | COMPLETED ids by completion time, until retention ends |
/// | `drover:{q}:cancelled` | sorted set | CANCELLED ids by time of cancel, until retention ends |
/// | `drover:{q}:waiting` | sorted set | WAITING workflow jobs by the time they began to wait (ms) |
/// | `drover:{q}:job:<id>` | hash | the job, with its history as a JSON array; a workflow job also its `workflow`, `workflowJob`, `parents`, `waitingFor`, `children` and `parent:<name>` results; a job with an effect ledger its `effects` and `effect:<step>` results |
/// | `drover:{q}:workflow:<id>` | hash | one workflow: `name`, `createdAt`, `size`, `unfinished`, `finishedAt`, `cancelledAt`, and `graph`, its jobs as JSON (`name`, `id`, `dependsOn`) parents first |
/// | `drover:{q}:idempotency:<key>` | string | the id of the job submitted with that key |
/// | `drover:{q}:unique:<key>` | string | the id of the unfinished unique job holding that key (expires with its TTL) |
/// | `drover:{q}:stats` | hash | ASSIGNED and RUNNING gauges; lifetime counters |
/// | `drover:{q}:config` | hash | the queue's default `maxAttempts`, `backoff` and `priority`; `paused` (ms) while it is paused |
/// | `drover:{q}:limits` | hash | the queue's limits (`rate`, `ratePeriodMs`, `concurrency`) and its rate bucket (`tokens` as of `at` ms); absent without limits |
/// | `drover:{q}:throughput` | sorted set | `<second>:<completed>:<failed>:<deadLettered>` by second (Unix time): the queue's lifetime counters, sampled once a second by the masters, for the last 15 minutes |
/// | `drover:{q}:cron` | sorted set | the names of the queue's active cron schedules, by next fire time (ms) |
/// | `drover:{q}:cron:<name>` | hash | one cron schedule: `cron`, `timeZone`, `missedFirings`, the job (`type`, `payload`, options), `paused`, `nextFireAt`, `lastFireAt`, `lastJobId`, `firings` |
/// | `drover:{@}:cron` | hash | every cron schedule's name → its queue |
/// | `drover:{@}:queues` | set | every queue ever submitted to |
/// | `drover:{@}:workers` | sorted set | worker id → last heartbeat (ms) |
/// | `drover:{@}:worker:<id>` | hash | host, pid, queues, concurrency, in-flight, started, version |
/// | `drover:finished` | pub/sub channel | `"<id> <state>"` when a job completes, is dead-lettered or cancelled |
/// | `drover:due` | pub/sub channel | a due time (ms) earlier than any its queue had: promoters wake for it |
/// | `drover:cancel` | pub/sub channel | `"<id> <worker>"`: a worker is to stop a job it runs |
/// | `drover:slots` | pub/sub channel | a queue's limits key, when a job holding one of its concurrency slots let it go or its limits changed |
public struct KeySchema: Sendable, Hashable {
    /// The first part of every key; change it to run several Drover installations on one Redis.
    public let prefix: String

    public init(prefix: String = "drover") {
        self.prefix = prefix
    }

    /// The keys of one queue.
    public func queue(_ name: String) -> QueueKeys { QueueKeys(base: "\(prefix):{\(name)}:") }

    /// `drover:{@}:`, which every key of no queue starts with.
    public var globalBase: String { "\(prefix):{@}:" }
    public var queues: String { globalBase + "queues" }
    public var workers: String { globalBase + "workers" }
    public func worker(_ id: String) -> String { globalBase + "worker:" + id }
    public var finishedChannel: String { "\(prefix):finished" }
    public var dueChannel: String { "\(prefix):due" }
    public var cancelChannel: String { "\(prefix):cancel" }
    public var slotsChannel: String { "\(prefix):slots" }
    /// Every cron schedule's name → its queue.
    public var cronSchedules: String { globalBase + "cron" }

    /// Names of the keys of no queue before they carried `{@}`, which the first store of this
    /// version to start moves (see `RedisJobStore.moveLegacyKeys()`).
    var legacyQueues: String { "\(prefix):queues" }
    var legacyCronSchedules: String { "\(prefix):cron" }
    var legacyWorkers: String { "\(prefix):workers" }
}

/// The keys of one queue; see ``KeySchema``.
public struct QueueKeys: Sendable, Hashable {
    /// `drover:{q}:`, which every key of the queue starts with.
    public let base: String

    public var queued: String { base + "queued" }
    public var paused: String { base + "paused" }
    public var prioritized: String { base + "prioritized" }
    public func active(worker: String) -> String { activePrefix + worker }
    public var activePrefix: String { base + "active:" }
    public var holders: String { base + "holders" }
    public var scheduled: String { base + "scheduled" }
    public var retry: String { base + "retry" }
    public var dead: String { base + "dead" }
    public var completed: String { base + "completed" }
    public var cancelled: String { base + "cancelled" }
    public var waiting: String { base + "waiting" }
    public var workflowPrefix: String { base + "workflow:" }
    public func workflow(_ id: JobID) -> String { workflowPrefix + id.rawValue }
    public var stats: String { base + "stats" }
    public var config: String { base + "config" }
    public var limits: String { base + "limits" }
    /// Samples of the queue's lifetime counters, one a second, for the dashboard's chart.
    public var throughput: String { base + "throughput" }
    /// The queue's cron schedules by next fire time.
    public var cron: String { base + "cron" }
    public func cron(_ name: String) -> String { base + "cron:" + name }
    public var jobPrefix: String { base + "job:" }
    public func job(_ id: JobID) -> String { jobPrefix + id.rawValue }
    public var idempotencyPrefix: String { base + "idempotency:" }
    public var uniquePrefix: String { base + "unique:" }
}
