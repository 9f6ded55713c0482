import DroverCore
import DroverRedis

/// One function of Drover's Redis library as Swift calls it: the Lua body, the layout of its
/// arguments, the Swift side that encodes them and the decoding of its reply, side by side in
/// one type, so the positions a body reads and the positions Swift writes are named once.
protocol StoreFunction: Sendable {
    associatedtype Reply
    /// The name it is registered under (`drover_<hash>_<name>`).
    static var name: String { get }
    /// Where its own arguments sit in `ARGV`.
    static var layout: ArgumentLayout { get }
    /// The Lua body; it runs after the prelude has bound the call (see ``DroverLibrary``).
    static var body: String { get }
    /// This call's keys and arguments.
    func call(_ context: FunctionContext) -> RedisFunction.Call
    /// The reply, as Swift values.
    func decode(_ reply: RESPValue) throws(RedisError) -> Reply
}

/// What every call needs from the store: where the keys are and how long histories get.
struct FunctionContext: Sendable {
    var keys: KeySchema
    var historyLimit: Int
}

/// A function that works on one queue. Its keys are the queue's (bound by the prelude to the
/// names of ``QueueFunctionKeys/common``), then ``extraKeys`` (from `KEYS[FIRST_EXTRA_KEY]`);
/// its first arguments are those of ``QueueFunctionArguments/common``, bound the same way,
/// and its own follow.
protocol QueueFunction: StoreFunction {
    var queue: String { get }
    /// The worker whose active list is `ACTIVE_KEY` (`-` when none is).
    var worker: String? { get }
    var extraKeys: [String] { get }
    /// The function's own arguments, in the order of ``StoreFunction/layout``.
    var arguments: [any RedisArgument] { get }
}

/// The keys every ``QueueFunction`` call carries, in order, each with the Lua name the
/// prelude binds it to, so a body never counts positions in `KEYS`.
enum QueueFunctionKeys {
    static let common: [(lua: String, key: @Sendable (QueueKeys, _ worker: String) -> String)] = [
        ("QUEUED_KEY", { q, _ in q.queued }), ("PAUSED_KEY", { q, _ in q.paused }), ("RETRY_KEY", { q, _ in q.retry }),
        ("DEAD_KEY", { q, _ in q.dead }), ("COMPLETED_KEY", { q, _ in q.completed }), ("STATS_KEY", { q, _ in q.stats }),
        ("CONFIG_KEY", { q, _ in q.config }), ("ACTIVE_KEY", { q, worker in q.active(worker: worker) }),
        ("HOLDERS_KEY", { q, _ in q.holders }), ("SCHEDULED_KEY", { q, _ in q.scheduled }),
        ("CANCELLED_KEY", { q, _ in q.cancelled }), ("PRIORITIZED_KEY", { q, _ in q.prioritized }),
        ("LIMITS_KEY", { q, _ in q.limits }),
    ]

    /// `local QUEUED_KEY, …` and `FIRST_EXTRA_KEY`, for the prelude.
    static var declarations: String {
        "local \(common.map(\.lua).joined(separator: ", "))\nlocal FIRST_EXTRA_KEY = \(common.count + 1)\n"
    }

    /// `QUEUED_KEY = keys[1]` …, for the prelude's `begin`.
    static var bindings: String {
        common.enumerated().map { "  \($1.lua) = keys[\($0 + 1)]" }.joined(separator: "\n")
    }
}

/// The arguments every ``QueueFunction`` call starts with, each with the Lua name the prelude
/// binds it to (numbers arrive as text; the prelude converts the ones it computes with).
enum QueueFunctionArguments {
    static let common: [(lua: String, value: @Sendable (FunctionContext, QueueKeys) -> any RedisArgument)] = [
        ("JOB_PREFIX", { _, q in q.jobPrefix }), ("IDEMPOTENCY_PREFIX", { _, q in q.idempotencyPrefix }),
        ("UNIQUE_PREFIX", { _, q in q.uniquePrefix }), ("FINISHED_CHANNEL", { c, _ in c.keys.finishedChannel }),
        ("DUE_CHANNEL", { c, _ in c.keys.dueChannel }), ("SLOTS_CHANNEL", { c, _ in c.keys.slotsChannel }),
        ("HISTORY_LIMIT", { c, _ in c.historyLimit }),
    ]

    /// `ARGV` index of a function's first own argument.
    static var firstOwn: Int { common.count + 1 }

    /// `local JOB_PREFIX, …`, for the prelude.
    static var declarations: String { "local \(common.map(\.lua).joined(separator: ", "))\n" }

    /// `JOB_PREFIX = args[1]` …, for the prelude's `begin`.
    static var bindings: String {
        common.enumerated().map { "  \($1.lua) = args[\($0 + 1)]" }.joined(separator: "\n")
    }
}

extension QueueFunction {
    var worker: String? { nil }
    var extraKeys: [String] { [] }

    func call(_ context: FunctionContext) -> RedisFunction.Call {
        let q = context.keys.queue(queue)
        let keys: [any RedisArgument] = QueueFunctionKeys.common.map { $0.key(q, worker ?? "-") } + extraKeys
        let common = QueueFunctionArguments.common.map { $0.value(context, q) }
        return RedisFunction.Call(DroverLibrary.function(Self.self), keys: keys, arguments: common + arguments)
    }
}

/// The arguments of a function by name: some leading ones, then a group per job. The Lua
/// body binds them with ``bindLeading`` and ``forEachJob``; Swift writes them with
/// ``encode(_:jobs:)``, which checks every group against the layout.
struct ArgumentLayout: Sendable {
    /// `ARGV` index of the first own argument.
    let first: Int
    let leading: [String]
    let perJob: [String]

    init(first: Int = QueueFunctionArguments.firstOwn, leading: [String], perJob: [String] = []) {
        self.first = first
        self.leading = leading
        self.perJob = perJob
    }

    /// `local worker, retention = ARGV[8], ARGV[9]`
    var bindLeading: String {
        guard !leading.isEmpty else { return "" }
        let values = leading.indices.map { "ARGV[\(first + $0)]" }
        return "local \(leading.joined(separator: ", ")) = \(values.joined(separator: ", "))"
    }

    /// `for id, attempt, result in groups(9, 3) do` (the prelude's `groups` walks `ARGV`).
    var forEachJob: String {
        "for \(perJob.joined(separator: ", ")) in groups(\(first + leading.count), \(perJob.count)) do"
    }

    func encode(_ leading: [any RedisArgument], jobs: [[any RedisArgument]] = []) -> [any RedisArgument] {
        precondition(leading.count == self.leading.count, "arguments \(self.leading) given as \(leading.count) values")
        var arguments = leading
        arguments.reserveCapacity(leading.count + jobs.count * perJob.count)
        for job in jobs {
            precondition(job.count == perJob.count, "a job's arguments \(perJob) given as \(job.count) values")
            arguments += job
        }
        return arguments
    }
}

extension RESPValue {
    /// The elements of an array reply; an error reply is thrown, anything else is an empty array.
    func elements() throws(RedisError) -> [RESPValue] {
        try throwingServerError().array ?? []
    }
}
