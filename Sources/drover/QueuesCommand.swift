import ArgumentParser
import Drover
import DroverCore
import Logging

struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "Show every queue with its jobs per state; pause, resume and limit queues.",
        discussion: """
            Examples:
              drover queues
              drover queues pause mail
              drover queues resume mail
              drover queues limit mail --rate 50/s --concurrency 5
            """,
        subcommands: [List.self, Pause.self, Resume.self, Limit.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every queue with its jobs per state (the default).",
            discussion: "Example:\n  drover queues list --redis redis://127.0.0.1:6379")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            connection.bootstrapLogging()
            do {
                let store = try connection.store(clientName: "drover.cli", logger: Logger(label: "drover.queues"))
                let counts = try await store.queueCounts()
                await store.close()
                Output.table(
                    [
                        "QUEUE", "STATE", "SCHEDULED", "WAITING", "QUEUED", "ASSIGNED", "RUNNING", "RETRY_QUEUED", "COMPLETED",
                        "DEAD_LETTER",
                        "CANCELLED", "LIMITS",
                    ],
                    counts.map { c in
                        [
                            c.queue, c.paused ? "paused" : "running", "\(c.scheduled)", "\(c.waiting)", "\(c.queued)", "\(c.assigned)",
                            "\(c.running)",
                            "\(c.retryQueued)", "\(c.completed)", "\(c.deadLetter)", "\(c.cancelled)", c.limits?.description ?? "-",
                        ]
                    })
            } catch {
                fail("\(error)")
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause queues: none of their jobs starts, anywhere, until they are resumed.",
            discussion: """
                Jobs already running finish. Submits are still accepted; retries and delayed jobs
                still come due. They all wait QUEUED.

                Example:
                  drover queues pause mail --master http://127.0.0.1:8080
                """)

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Queue names.")
        var queues: [String]

        func run() async throws {
            try await setPaused(true, queues: queues, connection: connection)
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume paused queues: their jobs start again, in order.",
            discussion: "Example:\n  drover queues resume mail")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Queue names.")
        var queues: [String]

        func run() async throws {
            try await setPaused(false, queues: queues, connection: connection)
        }
    }
}

/// Pauses or resumes each queue; exits 1 if any was refused (a queue that does not exist).
private func setPaused(_ paused: Bool, queues: [String], connection: ConnectionOptions) async throws {
    try await connection.forEach(queues, label: "drover.queues") { client, queue in
        if paused { try await client.pause(queue: queue) } else { try await client.resume(queue: queue) }
        print("\(queue) \(paused ? "paused" : "resumed")")
    }
}
