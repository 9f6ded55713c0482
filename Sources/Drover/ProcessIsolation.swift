import DroverCore
import DroverProcess
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Isolation mode: each job runs in a child process of its own, so a handler that crashes
/// (a trap, a segfault, an out-of-memory kill) costs that one job an attempt instead of taking
/// the worker and every job it holds down with it.
///
/// The worker keeps its handlers but wraps them with ``JobHandlers/isolated(command:environment:)``:
/// for each job it starts `command`, writes the job to the child's standard input as one JSON
/// object, and reads the outcome from its standard output. The child is the same program
/// started in a mode that calls ``JobHandlers/runOneJob()``:
///
/// ```swift
/// if CommandLine.arguments.dropFirst().first == "run-one-job" {
///     exit(await handlers.runOneJob())
/// }
/// let worker = Worker(store: store, handlers: handlers.isolated(command: [CommandLine.arguments[0], "run-one-job"]))
/// ```
///
/// A child costs a process start per job (milliseconds), so isolation suits jobs that are
/// long, risky or call into native code, not a stream of tiny ones.
extension JobHandlers {
    /// The same job types, each job run by `command` in a child process that the worker
    /// supervises: a timeout or shutdown kills it, and a child that dies without answering
    /// fails its job with the signal or exit status as the reason.
    public func isolated(command: [String], environment: [String: String] = [:]) -> JobHandlers {
        precondition(!command.isEmpty, "isolated(command:) needs an executable")
        var isolated = JobHandlers()
        for type in types {
            isolated.registerRaw(type) { payload, context in
                try await IsolatedJob.run(command: command, environment: environment, payload: payload, context: context)
            }
        }
        return isolated
    }

    /// The child's side of isolation: reads one job from standard input, runs its handler in
    /// this process, writes the outcome to standard output, and returns the exit status to
    /// end the process with (0 when the handler succeeded or threw: both are answers).
    public func runOneJob(logger: Logger = Logger(label: "drover.job")) async -> Int32 {
        // A blocking read, and the only thing this process does until it has its job: there is
        // nothing else on the cooperative pool for it to hold up.
        let input = Descriptor.readAll(0)
        let answer: String
        do {
            let (job, payload) = try IsolatedJob.decode(String(decoding: input, as: UTF8.self))
            guard let handler = handler(for: job.type) else { throw JobFailure.noHandler(type: job.type, worker: job.worker) }
            let context = job.context(logger: logger)
            let result = try await handler(payload, context)
            answer = #"{"ok":true,"result":\#(result)}"#
        } catch {
            answer = #"{"ok":false,"error":\#(JSONScanner.quote(String(describing: error)))}"#
        }
        guard Descriptor.writeAll(1, Array((answer + "\n").utf8)) else { return 1 }
        return 0
    }
}

/// What a child is told about its job; the payload travels beside it, untouched.
struct IsolatedJob: Codable, Sendable {
    var id: JobID
    var queue: String
    var type: String
    var attempt: Int
    var maxAttempts: Int
    /// Decided by the worker from the job's ``Attempts``: the child sees only the hand-out
    /// count, which after an operator's retry of a dead letter is past `maxAttempts`.
    var isLastAttempt: Bool
    var worker: String
    var parentResults: [String: String]?
    var failedParents: [String: ParentFailure]?
    /// Steps recorded by earlier attempts: the child's `once` returns them, and refuses a new one.
    var effects: [String: String]?

    init(_ context: JobContext) {
        id = context.id
        queue = context.queue
        type = context.type
        attempt = context.attempt
        maxAttempts = context.maxAttempts
        isLastAttempt = context.isLastAttempt
        worker = context.worker
        parentResults = context.parentResults.isEmpty ? nil : context.parentResults
        failedParents = context.failedParents.isEmpty ? nil : context.failedParents
        let recorded = context.ledger.recordedSteps
        effects = recorded.isEmpty ? nil : recorded
    }

    /// The handler's context in the child, as the worker would have built it.
    func context(logger: Logger) -> JobContext {
        var jobLogger = logger
        jobLogger[metadataKey: "job"] = "\(id)"
        jobLogger[metadataKey: "type"] = "\(type)"
        jobLogger[metadataKey: "attempt"] = "\(attempt)"
        return JobContext(
            id: id, queue: queue, type: type, attempt: attempt, maxAttempts: maxAttempts, isLastAttempt: isLastAttempt,
            worker: worker, logger: jobLogger, parentResults: parentResults ?? [:],
            failedParents: failedParents ?? [:], ledger: EffectLedger(recorded: effects ?? [:], record: nil))
    }

    /// A handler's error as the child reported it.
    struct HandlerError: Error, CustomStringConvertible {
        var description: String
    }

    /// The child's standard input: this, with the payload's JSON inline.
    func encoded(payload: String) -> String {
        WireFormat.encode(self, raw: [("payload", payload)])
    }

    static func decode(_ text: String) throws -> (IsolatedJob, payload: String) {
        let fields = try JSONScanner.objectFields(text)
        return (try WireFormat.decode(IsolatedJob.self, from: text), fields["payload"] ?? "null")
    }

    static func run(command: [String], environment: [String: String], payload: String, context: JobContext) async throws -> String {
        let input = IsolatedJob(context).encoded(payload: payload)
        let (status, output) = try await ChildProcess.run(
            executable: command[0], arguments: Array(command.dropFirst()), environment: environment, input: Array(input.utf8))
        try Task.checkCancellation()
        let text = String(decoding: output, as: UTF8.self)
        if let fields = try? JSONScanner.objectFields(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            if fields["ok"] == "true", let result = fields["result"] { return result }
            if fields["ok"] == "false", let error = fields["error"].flatMap({ try? WireFormat.decode(String.self, from: $0) }) {
                throw HandlerError(description: error)
            }
        }
        throw HandlerError(description: "handler process \(describe(status)) without an answer")
    }

    /// "was killed by signal 4 (Illegal instruction)", "exited with status 3".
    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7F
        if signal != 0 {
            let name = strsignal(signal).map { String(cString: $0) } ?? "signal \(signal)"
            return "was killed by signal \(signal) (\(name))"
        }
        return "exited with status \((status >> 8) & 0xFF)"
    }
}
