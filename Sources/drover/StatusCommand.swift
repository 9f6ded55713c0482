import ArgumentParser
import Drover
import DroverCore
import Foundation
import Logging

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a job: state, attempts, result or error, and its history.",
        discussion: """
            Examples:
              drover status 01JDZ6Q1S2T3V4W5X6Y7Z8A9BC
              drover status 01JDZ6Q1S2T3V4W5X6Y7Z8A9BC --json | jq .history
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The job id.")
    var id: String

    @Option(name: .long, help: "The job's queue, if known (saves a lookup).")
    var queue: String?

    @Flag(name: .long, help: "Print the job as JSON.")
    var json = false

    func run() async throws {
        connection.bootstrapLogging()
        guard let jobID = JobID(id) else { fail("'\(id)' is not a job id (26 characters, like 01JDZ6Q1S2T3V4W5X6Y7Z8A9BC)") }
        do {
            let store = try connection.store(clientName: "drover.cli", logger: Logger(label: "drover.status"))
            defer { Task { await store.close() } }
            guard let job = try await store.job(jobID, queue: queue) else { fail("no job \(jobID)") }
            if json {
                print(try Output.json(job))
                return
            }
            print("job       \(job.id)")
            print("queue     \(job.queue)")
            print("type      \(job.type)")
            print("state     \(job.state.rawValue)")
            print("attempt   \(job.attempt) (\(job.attemptsLeft) left of \(job.maxAttempts))")
            if let worker = job.worker { print("worker    \(worker)") }
            if let error = job.error { print("error     \(error)") }
            if let result = job.result { print("result    \(result)") }
            print("history")
            for step in job.history {
                let time = Date(timeIntervalSince1970: Double(step.at) / 1000).formatted(.iso8601)
                var line = "  \(time)  \(step.state.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) attempt \(step.attempt)"
                if let worker = step.worker { line += "  \(worker)" }
                if let error = step.error { line += "  \(error)" }
                print(line)
            }
        } catch {
            fail("\(error)")
        }
    }
}
