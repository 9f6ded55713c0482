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

/// A function that works on one queue. A call carries two keys, the queue's base key
/// (`drover:{q}:`, which puts the call in the queue's Redis Cluster slot) and the worker's
/// active list, then ``extraKeys`` (from `KEYS[FIRST_EXTRA_KEY]`); and two arguments, the key
/// prefix and the history limit, before its own. The prelude derives every other key and
/// channel the function may use from those (``QueueFunctionKeys``): each string a call carries
/// costs Redis about as much as a short command, and most of them a function never touches.
protocol QueueFunction: StoreFunction {
    var queue: String { get }
    /// The worker whose active list is `ACTIVE_KEY` (`-` when none is).
    var worker: String? { get }
    var extraKeys: [String] { get }
    /// The function's own arguments, in the order of ``StoreFunction/layout``.
    var arguments: [any RedisArgument] { get }
}

/// The names the prelude binds for a queue function, each derived from the call's base key or
/// key prefix as ``QueueKeys`` and ``KeySchema`` spell it, so the Lua side and the Swift side
/// name every key once, in Swift.
enum QueueFunctionKeys {
    /// The queue's keys, by Lua name.
    static let queueKeys: [(lua: String, key: @Sendable (QueueKeys) -> String)] = [
        ("QUEUED_KEY", \.queued), ("PAUSED_KEY", \.paused), ("RETRY_KEY", \.retry), ("DEAD_KEY", \.dead),
        ("COMPLETED_KEY", \.completed), ("STATS_KEY", \.stats), ("CONFIG_KEY", \.config), ("HOLDERS_KEY", \.holders),
        ("SCHEDULED_KEY", \.scheduled), ("CANCELLED_KEY", \.cancelled), ("PRIORITIZED_KEY", \.prioritized),
        ("LIMITS_KEY", \.limits), ("JOB_PREFIX", \.jobPrefix), ("IDEMPOTENCY_PREFIX", \.idempotencyPrefix),
        ("UNIQUE_PREFIX", \.uniquePrefix), ("WAITING_KEY", \.waiting), ("WORKFLOW_PREFIX", \.workflowPrefix),
        ("ACTIVE_PREFIX", \.activePrefix),
    ]

    /// The installation's channels, by Lua name.
    static let channels: [(lua: String, key: @Sendable (KeySchema) -> String)] = [
        ("FINISHED_CHANNEL", \.finishedChannel), ("DUE_CHANNEL", \.dueChannel), ("SLOTS_CHANNEL", \.slotsChannel),
        ("CANCEL_CHANNEL", \.cancelChannel),
    ]

    /// `ARGV` index of a function's first own argument.
    static let firstOwnArgument = 3

    /// `local QUEUED_KEY, …`, for the prelude.
    static var declarations: String {
        let names = ["BASE_KEY", "ACTIVE_KEY", "KEY_PREFIX", "HISTORY_LIMIT"] + queueKeys.map(\.lua) + channels.map(\.lua)
        return "local \(names.joined(separator: ", "))\nlocal FIRST_EXTRA_KEY = 3\n"
    }

    /// The prelude's `begin` for a queue function: every name from the two keys and arguments.
    static var bindings: String {
        let sample = KeySchema(prefix: "p")
        var lines = ["BASE_KEY, ACTIVE_KEY = keys[1], keys[2]", "KEY_PREFIX, HISTORY_LIMIT = args[1], tonumber(args[2])"]
        lines += queueKeys.map { "\($0.lua) = BASE_KEY .. '\(suffix(of: $0.key))'" }
        lines += channels.map { "\($0.lua) = KEY_PREFIX .. '\(String($0.key(sample).dropFirst(sample.prefix.count)))'" }
        return lines.map { "    " + $0 }.joined(separator: "\n")
    }

    /// What a queue key adds to the queue's base key, as ``QueueKeys`` spells it: a body
    /// appends it to `BASE_KEY` for a key the prelude does not bind.
    static func suffix(of key: (QueueKeys) -> String) -> String {
        let q = KeySchema(prefix: "p").queue("q")
        return String(key(q).dropFirst(q.base.count))
    }
}

extension QueueFunction {
    var worker: String? { nil }
    var extraKeys: [String] { [] }

    func call(_ context: FunctionContext) -> RedisFunction.Call {
        let q = context.keys.queue(queue)
        let keys: [any RedisArgument] = [q.base, q.active(worker: worker ?? "-")] + extraKeys
        let common: [any RedisArgument] = [context.keys.prefix, context.historyLimit]
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

    init(first: Int = QueueFunctionKeys.firstOwnArgument, leading: [String], perJob: [String] = []) {
        self.first = first
        self.leading = leading
        self.perJob = perJob
    }

    /// `local worker, retention = ARGV[3], ARGV[4]`
    var bindLeading: String {
        guard !leading.isEmpty else { return "" }
        let values = leading.indices.map { "ARGV[\(first + $0)]" }
        return "local \(leading.joined(separator: ", ")) = \(values.joined(separator: ", "))"
    }

    /// `for id, attempt, result in groups(4, 3) do` (the prelude's `groups` walks `ARGV`).
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
