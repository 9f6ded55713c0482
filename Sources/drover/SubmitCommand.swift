import ArgumentParser
import Drover
import DroverAPI
import DroverCore
import Foundation
import Logging

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a job and print its id.",
        discussion: """
            Backoff is STRATEGY:BASE_MS[:MAX_MS[:JITTER]], STRATEGY one of fixed, linear, exponential.

            Examples:
              drover submit noop
              drover submit sleep '{"ms":250}' --queue slow --max-attempts 5 --backoff exponential:500:60000:0.2
              drover submit echo '{"hello":"world"}' --wait 10
              drover submit send-invoice '{"order":42}' --idempotency-key order-42
              drover submit noop --count 10000 > ids.txt
              drover submit send-reminder '{"user":7}' --delay 15m
              drover submit report '{}' --at 2026-12-24T08:00:00Z
              drover submit reindex '{"user":7}' --priority 9
              drover submit report '{"user":7}' --unique            (refused while one is unfinished)
              drover submit sync '{}' --unique-key sync-all --unique-for 10m
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The job type.")
    var type: String

    @Argument(help: "The payload, as JSON.")
    var payload: String = "{}"

    @Option(name: .long, help: "The queue.")
    var queue: String = "default"

    @Option(name: .long, help: "Attempts before the job is dead-lettered (default: the queue's, else 3).")
    var maxAttempts: Int?

    @Option(name: .long, help: "Retry backoff, e.g. exponential:1000:3600000:0.2.")
    var backoff: String?

    @Option(name: .long, help: "Seconds one run may take.")
    var timeout: Double?

    @Option(name: .long, help: "A repeated submit with this key returns the first job.")
    var idempotencyKey: String?

    @Flag(name: .long, help: "Refuse the job while one with the same type and payload is unfinished.")
    var unique = false

    @Option(name: .long, help: "Refuse the job while one with this unique key is unfinished.")
    var uniqueKey: String?

    @Option(name: .long, help: "Hold the unique key at most this long: 30s, 10m (default: until the job finishes).")
    var uniqueFor: String?

    func uniqueLock() throws -> UniqueLock? {
        guard unique || uniqueKey != nil || uniqueFor != nil else { return nil }
        var ttl: Duration?
        if let text = uniqueFor {
            guard let duration = try? parseDuration(text) else {
                throw ValidationError("--unique-for must look like 30s or 10m, got '\(text)'")
            }
            ttl = duration
        }
        return UniqueLock(key: uniqueKey, ttl: ttl)
    }

    @Option(name: .long, help: "0 to 9: within its queue a higher priority starts first (default: the queue's, else 0).")
    var priority: Int?

    @Option(name: .long, help: "Run no sooner than this long from now: 500ms, 30s, 15m.")
    var delay: String?

    @Option(name: .long, help: "Run no sooner than this time: RFC 3339 (2026-12-24T08:00:00Z) or milliseconds since 1970.")
    var at: String?

    @Option(name: .long, help: "Wait up to this many seconds for the job to finish and print its result.")
    var wait: Double?

    @Option(name: .long, help: "Submit this many copies, in batches of 1000 (one round trip each); prints every id.")
    var count: Int = 1

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard count == 1 || (wait == nil && idempotencyKey == nil) else {
            throw ValidationError("--count cannot be combined with --wait or --idempotency-key")
        }
        _ = try start()
    }

    /// `--delay` or `--at`, as the job's start.
    func start() throws -> JobStart? {
        switch (delay, at) {
        case (nil, nil): return nil
        case (let text?, nil):
            guard let duration = try? parseDuration(text) else {
                throw ValidationError("--delay must look like 500ms, 30s or 15m, got '\(text)'")
            }
            return .after(duration)
        case (nil, let text?):
            guard let start = Int64(text).map({ JobStart.at(epochMs: $0) }) ?? JobStart.at(rfc3339: text) else {
                throw ValidationError("--at must be an RFC 3339 time like 2026-12-24T08:00:00Z or milliseconds since 1970, got '\(text)'")
            }
            return start
        case (_?, _?): throw ValidationError("give --delay or --at, not both")
        }
    }

    func run() async throws {
        connection.bootstrapLogging()
        let logger = Logger(label: "drover.submit")
        do {
            let store = try connection.store(clientName: "drover.cli", logger: logger)
            defer { Task { await store.close() } }
            let client = DroverClient(store: store)
            let request = JobRequest(
                queue: queue, type: type, payload: payload, maxAttempts: maxAttempts, backoff: try backoff.map(Self.parseBackoff),
                timeoutMs: timeout.map { Int(($0 * 1000).rounded()) }, idempotencyKey: idempotencyKey, start: try start(),
                priority: priority, unique: try uniqueLock())
            if count > 1 {
                var left = count
                while left > 0 {
                    let batch = try await client.submit(batch: Array(repeating: request, count: min(left, 1000)))
                    print(batch.map(\.id.rawValue).joined(separator: "\n"))
                    left -= batch.count
                    Output.progress("submitting", done: count - left, total: count)
                }
                return
            }
            let submitted = try await client.submit(request)
            print(submitted.id)
            if submitted.duplicate {
                warn("a unique job with this key is still \(submitted.state.rawValue); that is its id")
            } else if !submitted.created {
                warn("idempotency key matched an existing job")
            }
            guard let wait else { return }
            let job = try await client.wait(for: submitted.id, queue: queue, timeout: Duration(seconds: wait))
            switch job.state {
            case .completed: print(job.result ?? "null")
            case .deadLetter: fail("job \(job.id) is DEAD_LETTER: \(job.error ?? "")")
            case .cancelled: fail("job \(job.id) was CANCELLED")
            default: fail("job \(job.id) is still \(job.state.rawValue) after \(wait)s")
            }
        } catch {
            fail("\(error)")
        }
    }

    static func parseBackoff(_ text: String) throws -> BackoffPolicy {
        let parts = text.split(separator: ":").map(String.init)
        guard (2...4).contains(parts.count), let strategy = BackoffPolicy.Strategy(rawValue: parts[0]), let base = Int(parts[1]) else {
            throw ValidationError("--backoff must look like exponential:1000[:3600000[:0.2]], got '\(text)'")
        }
        let policy = BackoffPolicy(
            strategy: strategy, baseMs: base, maxMs: parts.count > 2 ? Int(parts[2]) ?? -1 : max(base, 3_600_000),
            jitter: parts.count > 3 ? Double(parts[3]) ?? -1 : 0)
        try policy.validate()
        return policy
    }
}
