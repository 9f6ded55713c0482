import Drover
import DroverCore
import Foundation

/// The demo's third act: a workflow whose join is queued by its last parent's completion, and a
/// batch whose callback runs once its members have ended, one of them dead.
extension Demo {
    /// Returns whether everything ended as expected.
    func runWorkflows(_ client: DroverClient) async throws -> Bool {
        let queue = Self.flowQueue
        say("\nWorkflows and batches, on queue \(queue):")

        func job(_ type: String, _ payload: String = "{}", attempts: Int? = nil) -> JobRequest {
            JobRequest(queue: queue, type: type, payload: payload, maxAttempts: attempts)
        }
        let submitted = try await client.submit(
            workflow: WorkflowRequest(
                queue: queue, name: "demo-etl",
                jobs: [
                    WorkflowJob(name: "extract-orders", job: job("echo", #"{"rows":500}"#)),
                    WorkflowJob(name: "extract-visits", job: job("sleep", #"{"ms":300}"#)),
                    WorkflowJob(name: "load", job: job("echo", #"{"load":true}"#), dependsOn: ["extract-orders", "extract-visits"]),
                    WorkflowJob(name: "notify", job: job("noop"), dependsOn: ["load"]),
                ]))
        let workflow = try await client.wait(forWorkflow: submitted.id, queue: queue, timeout: .seconds(60))
        for line in WorkflowCommand.tree(workflow).split(separator: "\n") { say("  " + line) }
        // The join left WAITING in the call that completed its last parent: the same instant.
        let load = try await client.job(submitted.jobs["load"]!, queue: queue)
        var parentsDone: Int64 = 0
        for parent in ["extract-orders", "extract-visits"] {
            let completed = try await client.job(submitted.jobs[parent]!, queue: queue)?.history.last { $0.state == .completed }?.at
            parentsDone = max(parentsDone, completed ?? 0)
        }
        let queuedAt = load?.history.first { $0.state == .queued }?.at
        let workflowOK = workflow.state == .completed && queuedAt != nil && queuedAt == parentsDone
        say(
            "  • load was WAITING, then QUEUED by the call that completed its last parent (\(queuedAt == parentsDone ? "same ms" : "NOT the same ms"))"
        )

        let batch = try await client.create(
            batch: BatchRequest(
                queue: queue, name: "demo-batch",
                jobs: [job("echo"), job("echo"), job("fail", #"{"message":"member 3 fails on purpose"}"#, attempts: 1), job("noop")],
                onComplete: job("noop"), onSuccess: job("noop")))
        let status = try await client.wait(forWorkflow: batch.id, queue: queue, timeout: .seconds(60))
        let state = Dictionary(uniqueKeysWithValues: status.jobs.map { ($0.name, $0.state) })
        let batchOK =
            status.state == .blocked && state[BatchRequest.onCompleteName] == .completed && state[BatchRequest.onSuccessName] == .waiting
        say(
            "  • batch of 4, member 3 dead: onComplete \(state[BatchRequest.onCompleteName]??.rawValue ?? "?") (once, after all 4 ended), "
                + "onSuccess \(state[BatchRequest.onSuccessName]??.rawValue ?? "?") until the dead member is retried")
        let cancelled = try await client.cancel(workflow: batch.id, queue: queue)
        say("  • batch cancelled: \(cancelled.cancelled) job(s) CANCELLED (the waiting onSuccess)")
        return workflowOK && batchOK && cancelled.cancelled == 1
    }
}
