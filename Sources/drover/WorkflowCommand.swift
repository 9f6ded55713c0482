import ArgumentParser
import Drover
import DroverAPI
import DroverCore
import Foundation

struct WorkflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow",
        abstract: "Submit workflows (jobs with dependencies), show them as a tree, cancel them.",
        discussion: """
            A workflow file is the JSON of POST /v1/workflows: a queue, a name, and jobs, each a job
            as `drover submit` takes it with its `name` and `dependsOn` (the names of the jobs it
            runs after). A job waits WAITING until every parent has ended; the call that completes
            the last one queues it, and it reads their results by name.

            Example file (a fan-in):
              {"queue": "etl", "name": "nightly", "jobs": [
                {"name": "extract-a", "type": "extract", "payload": {"source": "a"}},
                {"name": "extract-b", "type": "extract", "payload": {"source": "b"}},
                {"name": "load", "type": "load", "dependsOn": ["extract-a", "extract-b"]}]}

            Examples:
              drover workflow submit nightly.json
              drover workflow status 01JEXAMPLE0000000000000000
              drover workflow cancel 01JEXAMPLE0000000000000000
            """,
        subcommands: [Submit.self, Status.self, Cancel.self]
    )

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Submit a workflow from a JSON file ('-' reads standard input); prints its id.",
            discussion: "Example:\n  drover workflow submit nightly.json --wait 60")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The workflow's JSON file, or - for standard input.")
        var file: String

        @Option(help: "Seconds to wait for it to finish, then show it.")
        var wait: Double?

        func run() async throws {
            let request = WorkflowCommand.read(file) { fields throws(APIError) in try fields.workflowRequest() }
            await connection.withClient(label: "drover.workflow") { client in
                let submitted = try await client.submit(workflow: request)
                print("\(submitted.id) submitted: \(submitted.jobs.count) jobs in queue \(submitted.queue)")
                try await WorkflowCommand.waitAndDraw(submitted.id, seconds: wait, client)
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a workflow as a tree: each job under its parents, with its state.",
            discussion: "Example:\n  drover workflow status 01JEXAMPLE0000000000000000")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The workflow's id.")
        var id: String

        @Flag(help: "Print the workflow as JSON, as GET /v1/workflows/{id} answers.")
        var json = false

        func run() async throws {
            guard let workflowID = JobID(id) else { fail("'\(id)' is not a workflow id") }
            await connection.withClient(label: "drover.workflow") { client in
                guard let status = try await client.workflow(workflowID) else { throw JobError.unknownWorkflow(workflowID) }
                print(json ? APIResult.workflow(status).json : WorkflowCommand.tree(status))
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel every unfinished job of workflows.",
            discussion: "Example:\n  drover workflow cancel 01JEXAMPLE0000000000000000")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Workflow ids.")
        var ids: [String]

        func run() async throws {
            try await connection.forEach(ids, label: "drover.workflow") { client, id in
                guard let workflowID = JobID(id) else { throw ValidationError("'\(id)' is not a workflow id") }
                let outcome = try await client.cancel(workflow: workflowID)
                print("\(id): \(outcome.cancelled) cancelled, \(outcome.stopping) running and being stopped")
            }
        }
    }

    /// With `--wait`: waits up to that many seconds for the workflow to finish, then draws it.
    static func waitAndDraw(_ id: JobID, seconds: Double?, _ client: DroverClient) async throws {
        guard let seconds else { return }
        print(tree(try await client.wait(forWorkflow: id, timeout: .milliseconds(Int64(seconds * 1000)))))
    }

    /// What a JSON file (or standard input, for `-`) holds, as `parse` reads its fields; a file
    /// that cannot be read or parsed ends the command with a message.
    static func read<T>(_ file: String, _ parse: (RequestFields) throws(APIError) -> T) -> T {
        let text: String
        do {
            text =
                file == "-"
                ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                : try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            fail("cannot read \(file): \(error.localizedDescription)")
        }
        do {
            return try parse(try RequestFields(json: text))
        } catch {
            fail("\(file): \(error.message)")
        }
    }

    /// The workflow as lines: a heading, then each job (parents first) indented by its depth
    /// in the graph, with its state and, when it has more than one parent, their names.
    static func tree(_ status: WorkflowStatus) -> String {
        var depth: [String: Int] = [:]
        for job in status.jobs { depth[job.name] = (job.dependsOn.compactMap { depth[$0] }.max() ?? -1) + 1 }
        let done = status.jobs.filter { $0.state == .completed }.count
        var lines = [
            "workflow \(status.id)\(status.name.map { " \($0)" } ?? "") in \(status.queue): \(status.state.rawValue), "
                + "\(done) of \(status.jobs.count) completed" + (status.batch.map { ", batch \($0.rawValue)" } ?? "")
        ]
        let width = status.jobs.map { 2 * (depth[$0.name] ?? 0) + $0.name.count }.max() ?? 0
        for job in status.jobs {
            let label = String(repeating: "  ", count: depth[job.name] ?? 0) + job.name
            var line = "  " + label.padding(toLength: width + 2, withPad: " ", startingAt: 0)
            line += (job.state?.rawValue ?? "expired").padding(toLength: 12, withPad: " ", startingAt: 0)
            if job.attempt > 1 { line += " attempt \(job.attempt)" }
            if job.dependsOn.count > 1 {
                // A batch's callback depends on every member: name a few.
                let shown = job.dependsOn.prefix(4).joined(separator: ", ")
                line += " after \(shown)" + (job.dependsOn.count > 4 ? " and \(job.dependsOn.count - 4) more" : "")
            }
            if let error = job.error, job.state != .completed { line += " (\(error.prefix(80)))" }
            lines.append(String(line.reversed().drop { $0 == " " }.reversed()))
        }
        return lines.joined(separator: "\n")
    }
}
