import ArgumentParser
import Drover
import DroverAPI
import DroverCore
import Foundation
import Logging

struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait for jobs to finish; print each one's result.",
        discussion: """
            Exits 0 when every job COMPLETED, 1 when one was dead-lettered or is still running at
            the timeout. Job ids come as arguments or, with -, one per line on standard input.

            Examples:
              drover wait 01JDZ6Q1S2T3V4W5X6Y7Z8A9BC --timeout 30
              drover submit noop --count 1000 | drover wait - --timeout 120
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "Job ids, or - to read them from standard input.")
    var ids: [String]

    @Option(name: .long, help: "Seconds to wait in all.")
    var timeout: Double = 60

    func run() async throws {
        connection.bootstrapLogging()
        let jobIDs = jobIDs(ids)
        do {
            let store = try connection.store(clientName: "drover.cli", logger: Logger(label: "drover.wait"))
            let client = DroverClient(store: store)
            let deadline = ContinuousClock.now + Duration(seconds: timeout)
            var failed = 0
            for (n, id) in jobIDs.enumerated() {
                let job = try await client.wait(for: id, timeout: max(.zero, deadline - .now))
                switch job.state {
                case .completed where jobIDs.count == 1: print(job.result ?? "null")
                case .completed: break
                case .deadLetter:
                    failed += 1
                    warn("job \(id) is DEAD_LETTER: \(job.error ?? "")")
                default:
                    failed += 1
                    warn("job \(id) is still \(job.state.rawValue)")
                }
                if jobIDs.count > 1 {
                    Output.progress("waiting", done: n + 1, total: jobIDs.count, detail: failed > 0 ? "\(failed) not completed" : "")
                }
            }
            await store.close()
            if failed > 0 { throw ExitCode(1) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            fail("\(error)")
        }
    }
}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List a queue's jobs in one state.",
        discussion: """
            Examples:
              drover jobs --queue default --state QUEUED
              drover jobs --queue emails --state RUNNING --limit 100 --json
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "The queue.")
    var queue: String = "default"

    @Option(name: .long, help: "SCHEDULED, QUEUED, ASSIGNED, RUNNING, RETRY_QUEUED, COMPLETED, DEAD_LETTER or CANCELLED.")
    var state: String = "QUEUED"

    @Option(name: .long, help: "Start after this cursor: the 'next' a page before printed.")
    var after: String?

    @Option(name: .long, help: "Jobs to show.")
    var limit: Int = 50

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        connection.bootstrapLogging()
        guard let state = JobState(rawValue: state.uppercased()) else {
            fail("--state must be one of \(JobState.observable.map(\.rawValue).joined(separator: ", "))")
        }
        var cursor: JobCursor?
        if let after {
            guard let parsed = JobCursor(after) else { fail("--after must be the 'next' cursor a page before printed") }
            cursor = parsed
        }
        do {
            let store = try connection.store(clientName: "drover.cli", logger: Logger(label: "drover.jobs"))
            let page = try await store.jobs(queue: queue, state: state, after: cursor, limit: limit)
            await store.close()
            let jobs = page.jobs
            if json {
                print(APIResult.jobPage(page).json)
                return
            }
            Output.table(
                ["ID", "TYPE", "STATE", "ATTEMPT", "WORKER", "SINCE", "ERROR"],
                jobs.map { job in
                    [
                        job.id.rawValue, job.type, job.state.rawValue, "\(job.attempt)/\(job.maxAttempts + job.attemptBase)",
                        job.worker ?? "-",
                        Output.age(job.timestamps[job.state.timestampField]), String((job.error ?? "").prefix(60)),
                    ]
                })
            if let next = page.next { print("next page: --after \(next)") }
        } catch {
            fail("\(error)")
        }
    }
}

struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "List registered workers and their last heartbeat.",
        discussion: "Example:\n  drover workers --redis redis://127.0.0.1:6379"
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        connection.bootstrapLogging()
        do {
            let store = try connection.store(clientName: "drover.cli", logger: Logger(label: "drover.workers"))
            let workers = try await store.workers()
            await store.close()
            Output.table(
                ["ID", "HOST", "PID", "QUEUES", "CONCURRENCY", "IN FLIGHT", "HEARTBEAT", "VERSION"],
                workers.map {
                    [
                        $0.id, $0.host, "\($0.pid)", $0.queues.joined(separator: ","), "\($0.concurrency)", "\($0.inFlight)",
                        Output.age($0.lastHeartbeat), $0.version,
                    ]
                })
        } catch {
            fail("\(error)")
        }
    }
}

struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Look at, retry and purge dead letters.",
        discussion: """
            Examples:
              drover dlq list --queue default
              drover dlq retry 01JDZ6Q1S2T3V4W5X6Y7Z8A9BC
              drover dlq retry --all --queue default
              drover dlq purge --queue default
            """,
        subcommands: [List.self, Retry.self, Purge.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List dead letters, newest first.", discussion: "Example:\n  drover dlq list --queue default")

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .long, help: "The queue.")
        var queue: String = "default"

        @Option(name: .long, help: "Dead letters to show.")
        var limit: Int = 50

        func run() async throws {
            connection.bootstrapLogging()
            do {
                let store = try connection.store(clientName: "drover.cli", logger: Logger(label: "drover.dlq"))
                let jobs = try await DroverClient(store: store).deadLetters(queue: queue, limit: limit).jobs
                await store.close()
                Output.table(
                    ["ID", "TYPE", "ATTEMPTS", "DIED", "ERROR"],
                    jobs.map {
                        [
                            $0.id.rawValue, $0.type, "\($0.attempt)", Output.age($0.timestamps[JobState.deadLetter.timestampField]),
                            String(($0.error ?? "").prefix(70)),
                        ]
                    })
            } catch {
                fail("\(error)")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue dead letters again with a fresh set of attempts.",
            discussion: "Examples:\n  drover dlq retry 01JDZ6Q1S2T3V4W5X6Y7Z8A9BC\n  drover dlq retry --all --queue default")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Job ids.")
        var ids: [String] = []

        @Flag(name: .long, help: "Retry every dead letter of the queue.")
        var all = false

        @Option(name: .long, help: "The queue (with --all, or to skip the lookup).")
        var queue: String?

        func validate() throws {
            guard all != !ids.isEmpty else { throw ValidationError("give job ids or --all, not both") }
            guard !all || queue != nil else { throw ValidationError("--all needs --queue") }
        }

        func run() async throws {
            connection.bootstrapLogging()
            do {
                let store = try connection.store(clientName: "drover.cli", logger: Logger(label: "drover.dlq"))
                let client = DroverClient(store: store)
                var targets: [JobID] = []
                if all, let queue {
                    var cursor: JobCursor?
                    repeat {
                        let page = try await client.deadLetters(queue: queue, after: cursor, limit: 1000)
                        targets += page.jobs.map(\.id)
                        cursor = page.next
                    } while cursor != nil
                } else {
                    for text in ids {
                        guard let id = JobID(text) else { fail("'\(text)' is not a job id") }
                        targets.append(id)
                    }
                }
                for (n, id) in targets.enumerated() {
                    try await client.retryDeadLetter(id, queue: queue)
                    if targets.count > 1 { Output.progress("retrying", done: n + 1, total: targets.count) }
                }
                await store.close()
                print("queued again: \(targets.count)")
            } catch {
                fail("\(error)")
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a queue's dead letters.", discussion: "Example:\n  drover dlq purge --queue default")

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .long, help: "The queue.")
        var queue: String = "default"

        func run() async throws {
            connection.bootstrapLogging()
            do {
                let store = try connection.store(clientName: "drover.cli", logger: Logger(label: "drover.dlq"))
                let purged = try await DroverClient(store: store).purgeDeadLetters(queue: queue)
                await store.close()
                print("deleted: \(purged)")
            } catch {
                fail("\(error)")
            }
        }
    }
}
