import DroverCore
import DroverRedis

/// The fields of a worker hash (`drover:{@}:worker:<id>`).
enum WorkerField: String, CaseIterable {
    case id, host, pid, queues, concurrency, inFlight, startedAt, version, lastHeartbeat
}

/// Records a heartbeat: the worker's score in `drover:{@}:workers` and its hash, which expires if
/// the worker stops beating for good.
struct HeartbeatFunction: StoreFunction {
    var info: WorkerInfo
    /// How long the hash outlives the last beat.
    var hashLifetime: Duration

    static let name = "heartbeat"
    static let layout = ArgumentLayout(first: 1, leading: ["worker", "ttl"])

    func call(_ context: FunctionContext) -> RedisFunction.Call {
        let values: [(WorkerField, any RedisArgument)] = [
            (.id, info.id), (.host, info.host), (.pid, info.pid), (.queues, info.queues.joined(separator: ",")),
            (.concurrency, info.concurrency), (.inFlight, info.inFlight), (.startedAt, info.startedAt), (.version, info.version),
        ]
        let fields = values.flatMap { [$0.0.rawValue, $0.1] as [any RedisArgument] }
        return RedisFunction.Call(
            DroverLibrary.function(Self.self), keys: [context.keys.workers, context.keys.worker(info.id)],
            arguments: Self.layout.encode([info.id, hashLifetime.milliseconds]) + fields)
    }

    func decode(_ reply: RESPValue) throws(RedisError) {
        _ = try reply.throwingServerError()
    }

    /// A worker as its hash describes it.
    static func decodeWorker(id: String, lastHeartbeat: Int64, hash f: [String: String]) -> WorkerInfo {
        func int(_ field: WorkerField) -> Int { f[field.rawValue].flatMap { Int($0) } ?? 0 }
        return WorkerInfo(
            id: id, host: f[WorkerField.host.rawValue] ?? "", pid: int(.pid),
            queues: (f[WorkerField.queues.rawValue] ?? "").split(separator: ",").map(String.init), concurrency: int(.concurrency),
            inFlight: int(.inFlight), startedAt: Int64(int(.startedAt)), version: f[WorkerField.version.rawValue] ?? "",
            lastHeartbeat: lastHeartbeat)
    }

    /// The field/value pairs of the hash follow the leading arguments.
    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        redis.call('ZADD', KEYS[1], int(at), worker)
        redis.call('HSET', KEYS[2], '\(WorkerField.lastHeartbeat.rawValue)', int(at), unpack(ARGV, \(layout.first + layout.leading.count)))
        redis.call('PEXPIRE', KEYS[2], ttl)
        return at
        """
}

/// The workers whose last heartbeat is older than the timeout (100 at most per call).
struct LostWorkersFunction: StoreFunction {
    var heartbeatTimeout: Duration

    static let name = "lost_workers"
    static let layout = ArgumentLayout(first: 1, leading: ["timeout"])

    func call(_ context: FunctionContext) -> RedisFunction.Call {
        RedisFunction.Call(
            DroverLibrary.function(Self.self), keys: [context.keys.workers],
            arguments: Self.layout.encode([heartbeatTimeout.milliseconds]))
    }

    func decode(_ reply: RESPValue) throws(RedisError) -> [String] {
        try reply.elements().compactMap(\.string)
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. int(at - tonumber(timeout)), 'LIMIT', 0, 100)
        """
}

/// Whether a worker is silent: no heartbeat within the timeout, or none at all. The reaper
/// asks right before it hands back the worker's jobs in a queue (`forget` false), and once
/// they are all handed back removes the worker unless it beat again meanwhile (`forget` true).
struct SilentWorkerFunction: StoreFunction {
    var worker: String
    var heartbeatTimeout: Duration
    /// Remove the worker's registry entry and hash if it is silent.
    var forget = false

    static let name = "worker_silent"
    static let layout = ArgumentLayout(first: 1, leading: ["worker", "timeout", "forget"])

    func call(_ context: FunctionContext) -> RedisFunction.Call {
        RedisFunction.Call(
            DroverLibrary.function(Self.self), keys: [context.keys.workers, context.keys.worker(worker)],
            arguments: Self.layout.encode([worker, heartbeatTimeout.milliseconds, forget ? 1 : 0]))
    }

    /// Whether it was silent (and, with `forget`, this call removed it).
    func decode(_ reply: RESPValue) throws(RedisError) -> Bool {
        try reply.throwingServerError().int == 1
    }

    static let body = """
        local at = now_ms()
        \(layout.bindLeading)
        local seen = redis.call('ZSCORE', KEYS[1], worker)
        if seen and tonumber(seen) > at - tonumber(timeout) then return 0 end
        if forget == '0' then return 1 end
        redis.call('DEL', KEYS[2])
        return redis.call('ZREM', KEYS[1], worker)
        """
}
