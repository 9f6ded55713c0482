import ArgumentParser
import Drover
import DroverAPI
import DroverCore
import Foundation

struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Create batches (jobs with callbacks run once all have ended), add to open ones, close them.",
        discussion: """
            A batch file is the JSON of POST /v1/batches: a queue, a name, its jobs (each as
            `drover submit` takes it), and an `onComplete` job (runs once every member has ended,
            with their results and failures) or an `onSuccess` job (runs once every member has
            completed), or both. An `open` batch holds its callbacks until it is closed, and takes
            more members meanwhile. Members are named 1, 2, … in the order they were added.
            `drover workflow status ID` shows a batch.

            Example file:
              {"queue": "mail", "name": "newsletter", "jobs": [
                {"type": "send", "payload": {"to": "a@example.com"}},
                {"type": "send", "payload": {"to": "b@example.com"}}],
               "onComplete": {"type": "report"}}

            Examples:
              drover batch create newsletter.json --wait 60
              drover batch create open.json
              drover batch add 01JEXAMPLE0000000000000000 more.json --close
              drover batch close 01JEXAMPLE0000000000000000
            """,
        subcommands: [Create.self, Add.self, Close.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a batch from a JSON file ('-' reads standard input); prints its id.",
            discussion: "Example:\n  drover batch create newsletter.json --wait 60")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The batch's JSON file, or - for standard input.")
        var file: String

        @Flag(help: "Create it open, whatever the file says: its callbacks wait until it is closed.")
        var open = false

        @Option(help: "Seconds to wait for it to finish, then show it.")
        var wait: Double?

        func run() async throws {
            var request = WorkflowCommand.read(file) { fields throws(APIError) in try fields.batchRequest() }
            if open { request.open = true }
            await connection.withClient(label: "drover.batch") { client in
                let created = try await client.create(batch: request)
                print(
                    "\(created.id) created: \(request.jobs.count) jobs in queue \(created.queue)\(request.open ? ", open" : "")")
                try await WorkflowCommand.waitAndDraw(created.id, seconds: wait, client)
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add the jobs of a JSON file ({\"jobs\": [...]}) to an open batch.",
            discussion: "Example:\n  drover batch add 01JEXAMPLE0000000000000000 more.json --close")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The batch's id.")
        var id: String

        @Argument(help: "A JSON file with the jobs to add, or - for standard input.")
        var file: String

        @Flag(help: "Close the batch after adding them.")
        var close = false

        func run() async throws {
            guard let batchID = JobID(id) else { fail("'\(id)' is not a batch id") }
            let jobs = WorkflowCommand.read(file) { fields throws(APIError) in
                try fields.memberRequests(queue: try fields.string("queue"))
            }
            await connection.withClient(label: "drover.batch") { client in
                let added = try await client.add(jobs, toBatch: batchID, close: close)
                print("\(id): \(added.jobs.count) jobs added, batch \(added.batch.rawValue)")
            }
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close open batches: their callbacks run once every member has ended.",
            discussion: "Example:\n  drover batch close 01JEXAMPLE0000000000000000")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Batch ids.")
        var ids: [String]

        func run() async throws {
            try await connection.forEach(ids, label: "drover.batch") { client, id in
                guard let batchID = JobID(id) else { throw ValidationError("'\(id)' is not a batch id") }
                _ = try await client.close(batch: batchID)
                print("\(id): closed")
            }
        }
    }
}
